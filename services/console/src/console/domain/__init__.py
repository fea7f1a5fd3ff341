"""What the console's pages show, computed from the services' answers: pure, no I/O.

The pages (``pages/``) fetch; this module decides: who sees which page, how a deadline
reads (time left, in working days and hours), how the SLA board groups cases, how personal
data is masked for a reader not entitled to it, and how a table becomes a safe CSV file.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from stdnum.iso7064 import mod_11_2

from contracts.vocabulary import DEPARTMENT_NAMES
from servicekit.clock import CN_TZ, ensure_utc
from servicekit.masking import mask_personal_data
from servicekit.principal import Role

# -- who sees what ---------------------------------------------------------------------------
SLA_ROLES = frozenset({Role.SUPERVISOR, Role.HELPER, Role.WINDOW_STAFF, Role.OPERATOR})
ASSIGN_ROLES = frozenset({Role.SUPERVISOR, Role.WINDOW_STAFF})
LOOKUP_ROLES = frozenset({Role.WINDOW_STAFF, Role.HELPER, Role.SUPERVISOR, Role.OPERATOR})
LEDGER_ROLES = frozenset({Role.SUPERVISOR, Role.WINDOW_STAFF, Role.OVERSIGHT})
CARD_ROLES = frozenset({Role.WINDOW_STAFF, Role.SUPERVISOR})
BOX_ROLES = frozenset({Role.OVERSIGHT, Role.SUPERVISOR})
STATS_ROLES = frozenset({Role.SUPERVISOR, Role.OVERSIGHT, Role.OPERATOR})
OPS_ROLES = frozenset({Role.OPERATOR, Role.SUPERVISOR})
# Who may read an applicant's phone and ID numbers in full (the rest see them masked).
PERSONAL_DATA_ROLES = frozenset({Role.WINDOW_STAFF, Role.HELPER})


@dataclass(frozen=True)
class NavItem:
    path: str
    label: str
    roles: frozenset[Role]


NAV: tuple[NavItem, ...] = (
    NavItem("/sla", "时限看板", SLA_ROLES),
    NavItem("/lookup", "办件查询", LOOKUP_ROLES),
    NavItem("/ledger", "差评台账", LEDGER_ROLES),
    NavItem("/cards", "评价卡", CARD_ROLES),
    NavItem("/boxes", "开箱验票", BOX_ROLES),
    NavItem("/statistics", "统计", STATS_ROLES),
    NavItem("/ops", "运维", OPS_ROLES),
)

ROLE_LABELS = {
    Role.APPLICANT: "申请人", Role.WINDOW_STAFF: "窗口工作人员", Role.REVIEWER: "审批人员", Role.HELPER: "帮办人员",
    Role.SUPERVISOR: "督查科", Role.OVERSIGHT: "监督单位", Role.PARTNER_AGENCY: "合作单位", Role.OPERATOR: "运维人员",
}


def nav_for(role: Role) -> list[NavItem]:
    return [item for item in NAV if role in item.roles]


def home_for(role: Role) -> str | None:
    """The first page a role may use (None: the console has nothing for it)."""
    items = nav_for(role)
    return items[0].path if items else None


def safe_next(path: str | None) -> str:
    """A local path to return to after login: never another site (``//evil``, ``https://``)."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path or any(
            ord(c) < 0x20 for c in path):
        return "/"
    return path


# -- personal data -------------------------------------------------------------------------------
def masked(value: Any, role: Role) -> Any:
    """``value`` with phone and ID numbers masked unless ``role`` may read them (recursively)."""
    if role in PERSONAL_DATA_ROLES:
        return value
    if isinstance(value, str):
        return mask_personal_data(value)
    if isinstance(value, Mapping):
        return {k: masked(v, role) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [masked(v, role) for v in value]
    return value


# -- time -----------------------------------------------------------------------------------------
def parse_time(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return ensure_utc(value)
    return ensure_utc(datetime.fromisoformat(str(value).replace("Z", "+00:00")))


def local(value: datetime | str | None) -> str:
    """``2026-11-27 17:30`` in Beijing time, the hall's clock (a datetime or its ISO text)."""
    when = parse_time(value)
    return when.astimezone(CN_TZ).strftime("%Y-%m-%d %H:%M") if when else "—"


def time_left(due: datetime | None, now: datetime) -> str:
    """How a deadline reads on the board: 剩 2 小时 05 分 / 已超时 1 天 3 小时."""
    if due is None:
        return "—"
    delta = ensure_utc(due) - ensure_utc(now)
    late = delta < timedelta(0)
    minutes = int(abs(delta).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    text = (f"{days} 天 " if days else "") + f"{hours} 小时 {mins:02d} 分"
    return f"已超时 {text}" if late else f"剩 {text}"


# -- the SLA board ------------------------------------------------------------------------------------
MATTERS = {"establishment": "企业开办", "startup": "企业开办", "change": "营业执照变更"}
STAGES = {"initiation_land_use": "立项用地规划许可", "engineering_construction": "工程建设许可",
          "construction_permit": "施工许可", "completion_acceptance": "竣工验收"}
# Registration's departments come from the contracts; approvals' from its catalogue (its
# default.toml [departments]), which the console cannot import: an unknown code shows as is.
DEPARTMENTS = {
    **DEPARTMENT_NAMES, "window": "综合窗口",
    "development_reform": "发展改革委", "natural_resources": "自然资源局", "housing_construction": "住房城乡建设局",
    "fire_review": "消防审验", "civil_air_defence": "人防办", "transport": "交通运输局", "water_resources": "水务局",
    "archives": "城建档案馆", "water_utility": "供水公司", "power_utility": "供电公司", "gas_utility": "燃气公司",
    "heating_utility": "供热公司", "network_utility": "通信管线公司",
}


@dataclass(frozen=True)
class SlaRow:
    service: str                # registration | approvals
    case_number: str
    matter: str                 # 企业开办, 施工许可 ...
    subject: str                # company or project
    departments: tuple[str, ...]
    status: str
    due_at: datetime | None
    overdue: bool
    helper_id: str | None
    provisional: bool = False

    def left(self, now: datetime) -> str:
        return time_left(self.due_at, now)

    @property
    def due_local(self) -> str:
        return local(self.due_at)


def _label(code: str, labels: Mapping[str, str]) -> str:
    return labels.get(code, code)


def registration_row(case: Mapping[str, Any]) -> SlaRow:
    waiting = [s for s in case.get("steps") or [] if s.get("status") in ("requested", "returned")]
    departments = tuple(sorted({_label(str(s.get("department", "")), DEPARTMENTS) for s in waiting})) or ("综合窗口",)
    return SlaRow("registration", str(case["case_number"]), _label(str(case.get("kind", "")), MATTERS),
                  str(case.get("company_name", "")), departments, str(case.get("status", "")),
                  parse_time(case.get("due_at")), bool(case.get("overdue")), case.get("helper_id"),
                  bool(case.get("due_at_provisional")))


def approvals_row(stage: Mapping[str, Any]) -> SlaRow:
    pending: set[str] = set()
    for item in stage.get("items") or []:
        if item.get("status") in ("requested", "returned"):
            for review in item.get("reviews") or []:
                if not review.get("decision"):
                    pending.add(_label(str(review.get("department", "")), DEPARTMENTS))
    return SlaRow("approvals", str(stage["case_number"]), _label(str(stage.get("stage", "")), STAGES),
                  str(stage.get("project_code", "")), tuple(sorted(pending)) or ("综合窗口",),
                  str(stage.get("status", "")), parse_time(stage.get("due_at")), bool(stage.get("overdue")),
                  stage.get("helper_id"))


@dataclass
class SlaBoard:
    rows: list[SlaRow] = field(default_factory=list)

    @classmethod
    def of(cls, cases: Iterable[Mapping[str, Any]], stages: Iterable[Mapping[str, Any]]) -> SlaBoard:
        rows = {(r.service, r.case_number): r for r in
                [*(registration_row(c) for c in cases), *(approvals_row(s) for s in stages)]}
        far = datetime.max.replace(tzinfo=CN_TZ)
        return cls(sorted(rows.values(), key=lambda r: (not r.overdue, r.due_at or far, r.case_number)))

    @property
    def overdue(self) -> list[SlaRow]:
        return [r for r in self.rows if r.overdue]

    @property
    def at_risk(self) -> list[SlaRow]:
        return [r for r in self.rows if not r.overdue]

    def by_department(self) -> list[tuple[str, int, int]]:
        """``(department, at risk, overdue)`` per department, most overdue first."""
        risk: Counter[str] = Counter()
        late: Counter[str] = Counter()
        for r in self.rows:
            for d in r.departments:
                (late if r.overdue else risk)[d] += 1
        names = set(risk) | set(late)
        return sorted(((d, risk[d], late[d]) for d in names), key=lambda t: (-t[2], -t[1], t[0]))

    def by_matter(self) -> list[tuple[str, int, int]]:
        risk: Counter[str] = Counter()
        late: Counter[str] = Counter()
        for r in self.rows:
            (late if r.overdue else risk)[r.matter] += 1
        names = set(risk) | set(late)
        return sorted(((m, risk[m], late[m]) for m in names), key=lambda t: (-t[2], -t[1], t[0]))


# -- tables as CSV ------------------------------------------------------------------------------------
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    """A cell a spreadsheet will not run: text starting like a formula gets a leading quote."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def to_csv(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """UTF-8 with a BOM (Excel in a Chinese locale reads it), CRLF, every cell defused."""
    out = io.StringIO()
    out.write("\ufeff")
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow([csv_cell(h) for h in headers])
    for row in rows:
        w.writerow([csv_cell(v) for v in row])
    return out.getvalue()


# -- form errors ----------------------------------------------------------------------------------------
_MESSAGES = {
    "missing": "必填", "string_too_short": "不能为空", "string_too_long": "太长了",
    "string_pattern_mismatch": "格式不正确", "int_parsing": "请填写整数", "int_from_float": "请填写整数",
    "greater_than_equal": "数值太小", "less_than_equal": "数值太大", "greater_than": "数值太小",
    "less_than": "数值太大", "literal_error": "请从列表中选择", "enum": "请从列表中选择",
    "text_character": "含有不允许的字符（控制字符、不可见字符等）", "text_name": "需要至少一个文字或数字",
    "extra_forbidden": "不认识的字段", "date_from_datetime_parsing": "日期格式应为 年-月-日",
    "date_parsing": "日期格式应为 年-月-日", "too_long": "条目太多", "value_error": "数值不正确",
    "bool_parsing": "请选择是或否",
}


def field_message(error_type: str, fallback: str = "") -> str:
    """A readable (zh-CN) message for a validation error type; the service's own words otherwise."""
    return _MESSAGES.get(error_type, fallback or "数值不正确")


def form_errors(errors: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """``{field: message}`` from pydantic's or a service's problem ``errors`` (first per field)."""
    out: dict[str, str] = {}
    for e in errors:
        loc = e.get("loc")
        name = ".".join(str(p) for p in loc) if loc else str(e.get("field", ""))
        leaf = name.split(".")[-1] if name else ""
        message = field_message(str(e.get("type", "")), str(e.get("msg") or e.get("message") or ""))
        out.setdefault(leaf or "_", message)
    return out


def service_errors(errors: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """``{field: message}`` from a service's problem ``errors``, in the service's own words
    (they name the rule: "unknown helper", "not a card of this window")."""
    out: dict[str, str] = {}
    for e in errors:
        leaf = str(e.get("field", "")).split(".")[-1] or "_"
        out.setdefault(leaf, str(e.get("message") or field_message(str(e.get("type", "")))))
    return out


# -- one case's timeline (办件查询) -----------------------------------------------------------------------
def service_of(case_number: str) -> str | None:
    """Which service holds a case number: registration (QY start-up, BG change) or approvals (GC stage)."""
    head = case_number[:2].upper()
    return {"QY": "registration", "BG": "registration", "GC": "approvals"}.get(head)


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime | None
    source: str        # 办理 | 短信/通知 | 评价
    title: str
    detail: str = ""


MESSAGE_STATUS = {"delivered": "已送达", "sent": "已发送", "pending": "待发送", "failed": "发送失败",
                  "expired": "已过期", "held": "等待前序消息", "suppressed": "免打扰时段后发送"}


def timeline(case: Mapping[str, Any], messages: Iterable[Mapping[str, Any]],
             rating: Mapping[str, Any] | None) -> list[TimelineEntry]:
    """Steps, messages sent and the rating of one case, oldest first."""
    out = [TimelineEntry(parse_time(h.get("at")), "办理", str(h.get("action", "")),
                         " · ".join(x for x in (str(h.get("actor") or ""), str(h.get("detail") or "")) if x))
           for h in case.get("history") or []]
    for m in messages:
        status = MESSAGE_STATUS.get(str(m.get("status")), str(m.get("status", "")))
        out.append(TimelineEntry(parse_time(m.get("delivered_at") or m.get("created_at")), "通知",
                                 str(m.get("title") or m.get("template") or "消息"),
                                 f"{m.get('channel', '')} → {m.get('address', '')} · {status}"))
    given = (rating or {}).get("rating")
    if given:
        out.append(TimelineEntry(parse_time(given.get("rated_at")), "评价", str(given.get("label") or given.get("level")),
                                 f"渠道 {given.get('channel', '')}" + (" · 差评，已进入台账" if given.get("bad") else "")))
    far = datetime.min.replace(tzinfo=CN_TZ)
    return sorted(out, key=lambda e: e.at or far)


# -- ratings: the ledger (差评台账), paper cards (评价卡), the box opening (开箱验票) -----------------------
LEVELS = {"very_satisfied": "非常满意", "satisfied": "满意", "basically_satisfied": "基本满意",
          "dissatisfied": "不满意", "very_dissatisfied": "非常不满意"}
CHANNELS = {"web": "网页", "app": "城市 App", "mini_program": "小程序", "window_device": "窗口评价器", "paper": "评价卡"}
ENTRY_KINDS = {"bad_rating": "差评", "complaint": "投诉"}
ENTRY_FILTERS = {"pending": "未办结", "open": "待回访或待解释", "rectifying": "整改中", "answered": "已答复",
                 "annulled": "已撤销（复核）", "all": "全部"}
ENTRY_SORTS = {"deadline": "按时限", "owner": "按负责人"}
# Of the ledger's readers, who records callbacks and answers (ratings: window staff, helpers,
# supervisors, operators; an owner only their own entries, a supervisor any).
LEDGER_WRITERS = frozenset({Role.WINDOW_STAFF, Role.SUPERVISOR})
BOX_OPENERS = frozenset({Role.SUPERVISOR})
# The three oversight bodies that sign a box opening: ratings takes the body from the signing
# user's ``department`` claim (role ``oversight``), not from a form field.
OVERSIGHT_BODIES = {"assessment_office": "市委考核办", "discipline_inspection": "市纪委监委作风办",
                    "service_center": "市政务服务中心"}
DEPARTMENTS.update(OVERSIGHT_BODIES)  # an oversight account's department claim is its body
SLOTS = {"good": "满意投票口", "bad": "不满意投票口"}
VOTE_FLAGS = {"never_issued": "从未发放的卡", "already_counted": "重复投入（已计过）", "other_period": "非本月发放的卡",
              "other_window": "其他窗口发放的卡"}
CARD_ACTIONS = {"drop_good": "投入满意投票口", "drop_bad": "投入不满意投票口", "return": "退回（未使用）",
                "void": "作废（污损、遗失）"}
WARN_WITHIN = timedelta(days=1)
MAX_SERIALS = 500  # ratings takes at most 500 serials per request


def today(now: datetime) -> str:
    """The hall's day (Beijing), ``YYYY-MM-DD``."""
    return ensure_utc(now).astimezone(CN_TZ).strftime("%Y-%m-%d")


_DAY = re.compile(r"20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])")


def day_or_today(value: Any, now: datetime) -> str:
    """``value`` if it is a day (``YYYY-MM-DD``), else today."""
    return value if isinstance(value, str) and _DAY.fullmatch(value) else today(now)


def this_month(now: datetime) -> str:
    return ensure_utc(now).astimezone(CN_TZ).strftime("%Y-%m")


def previous_month(month: str) -> str:
    year, mon = int(month[:4]), int(month[5:7])
    return f"{year - 1}-12" if mon == 1 else f"{year}-{mon - 1:02d}"


@dataclass(frozen=True)
class Badge:
    kind: str  # overdue | at-risk | ok (the CSS classes of the SLA board)
    label: str


def deadline_badge(due: datetime | None, now: datetime, *, overdue: bool = False,
                   warn_within: timedelta = WARN_WITHIN) -> Badge | None:
    """A deadline's badge: past (or marked overdue by the service) → 已超时; due within
    ``warn_within`` → 即将到期; otherwise 未到期. No deadline: no badge."""
    if due is None:
        return None
    left = ensure_utc(due) - ensure_utc(now)
    if overdue or left < timedelta(0):
        return Badge("overdue", "已超时")
    if left <= warn_within:
        return Badge("at-risk", "即将到期")
    return Badge("ok", "未到期")


@dataclass(frozen=True)
class LedgerRowView:
    entry_id: str
    kind: str
    case_number: str
    owner_id: str
    window_id: str | None
    department: str | None
    state: str            # what the entry waits for, in words
    step: str             # callback | feedback | explanation | "" (nothing: answered or annulled)
    due_at: datetime | None
    badge: Badge | None
    feedback_due_at: datetime | None
    opened_at: datetime | None
    answered_at: datetime | None
    within_time_limit: bool | None

    @property
    def pending(self) -> bool:
        return bool(self.step)


def entry_step(entry: Mapping[str, Any]) -> tuple[str, str]:
    """``(step, state)``: what the entry waits for (callback | feedback | explanation | "") and
    that in words."""
    status, called = str(entry.get("status", "")), bool(entry.get("called_back_at"))
    if status == "open":
        return ("callback", "待电话回访") if not called else ("explanation", "待解释说明")
    if status == "rectifying":
        return "feedback", "整改中，待反馈"
    return "", {"answered": "已答复", "annulled": "评价已撤销（复核）"}.get(status, status or "—")


def ledger_row(entry: Mapping[str, Any], now: datetime) -> LedgerRowView:
    """One ledger entry (ratings' ``EntryOut``): the step it waits for and that step's deadline,
    from the entry's own due fields: the callback's (1 working day), then the feedback's (3)."""
    step, state = entry_step(entry)
    due = parse_time(entry.get({"callback": "callback_due_at", "feedback": "feedback_due_at"}.get(step, "-")))
    overdue = step == "feedback" and bool(entry.get("overdue"))
    return LedgerRowView(
        str(entry.get("entry_id", "")), ENTRY_KINDS.get(str(entry.get("kind", "")), str(entry.get("kind", ""))),
        str(entry.get("case_number", "")), str(entry.get("owner_id", "")), entry.get("window_id"),
        entry.get("department"), state, step, due, deadline_badge(due, now, overdue=overdue),
        parse_time(entry.get("feedback_due_at")), parse_time(entry.get("opened_at")),
        parse_time(entry.get("answered_at")), entry.get("within_time_limit"))


def ledger_groups(entries: Iterable[Mapping[str, Any]], now: datetime, *, sort: str = "deadline",
                  status: str = "pending") -> list[tuple[str | None, list[LedgerRowView]]]:
    """The ledger's table(s): ``pending`` keeps the entries still waiting for a step; sorted by
    deadline (nearest first, overdue on top; no deadline last), or grouped by owner."""
    rows = [ledger_row(e, now) for e in entries]
    if status == "pending":
        rows = [r for r in rows if r.pending]
    far = datetime.max.replace(tzinfo=CN_TZ)
    early = datetime.min.replace(tzinfo=CN_TZ)

    def key(r: LedgerRowView) -> tuple[bool, datetime, datetime, str]:
        return (r.due_at is None, r.due_at or far, r.opened_at or early, r.entry_id)

    rows.sort(key=key)
    if sort != "owner":
        return [(None, rows)]
    owners: dict[str, list[LedgerRowView]] = {}
    for r in rows:
        owners.setdefault(r.owner_id, []).append(r)
    return sorted(owners.items())


def entry_actions(entry: Mapping[str, Any], role: Role, sub: str) -> frozenset[str]:
    """The forms the entry's state allows this user: the callback while it waits for one, then
    the feedback (reasonable) or the explanation (no legal basis). Owners act on theirs only."""
    if role not in LEDGER_WRITERS or (role is not Role.SUPERVISOR and sub != entry.get("owner_id")):
        return frozenset()
    step = entry_step(entry)[0]
    return frozenset({step}) if step else frozenset()


@dataclass(frozen=True)
class HistoryItem:
    at: datetime | None
    what: str
    detail: str | None = None


def entry_history(entry: Mapping[str, Any], rating: Mapping[str, Any] | None = None) -> list[HistoryItem]:
    """The entry's story, oldest first: the rating, the entry opened, the callback, the answer."""
    items: list[HistoryItem] = []
    if rating:
        items.append(HistoryItem(parse_time(rating.get("rated_at")),
                                 f"评价：{LEVELS.get(str(rating.get('level')), rating.get('label') or '—')}"
                                 f"（{CHANNELS.get(str(rating.get('channel')), rating.get('channel') or '—')}）",
                                 rating.get("comment")))
    items.append(HistoryItem(parse_time(entry.get("opened_at")),
                             f"登记入台账，负责人 {entry.get('owner_id')}，回访时限 {local(entry.get('callback_due_at'))}"))
    if entry.get("called_back_at"):
        if entry.get("reasonable"):
            what = f"电话回访：诉求合理，立行立改，整改反馈时限 {local(entry.get('feedback_due_at'))}"
        else:
            what = "电话回访：诉求无法律依据，作解释说明"
        items.append(HistoryItem(parse_time(entry.get("called_back_at")), what, entry.get("callback_outcome")))
    if entry.get("overdue"):
        items.append(HistoryItem(parse_time(entry.get("feedback_due_at")), "整改反馈超过时限（已提醒督办）"))
    status = entry.get("status")
    if status == "answered" and entry.get("feedback"):
        late = "" if entry.get("within_time_limit") is not False else "（超过时限）"
        items.append(HistoryItem(parse_time(entry.get("answered_at")), f"整改反馈已发送给评价人{late}",
                                 entry.get("feedback")))
    elif status == "answered":
        items.append(HistoryItem(parse_time(entry.get("answered_at")), "解释说明已发送给评价人", entry.get("explanation")))
    elif status == "annulled":
        items.append(HistoryItem(parse_time(entry.get("answered_at")), "评价经申诉复核撤销"))
    early = datetime.min.replace(tzinfo=CN_TZ)
    return sorted(items, key=lambda i: i.at or early)


# -- card serials ---------------------------------------------------------------------------------------
_SERIAL = re.compile(r"[0-9]{10}[0-9X]")


def serial_problem(serial: str) -> str | None:
    """Why ``serial`` is not a card serial (10 digits and an ISO 7064 Mod 11,2 check character,
    as ratings numbers them), or None."""
    if not _SERIAL.fullmatch(serial):
        return "不是卡片编号：应为 10 位数字加 1 位校验码（0-9 或 X）"
    if not mod_11_2.is_valid(serial):
        return "校验码不对，可能输错了一位或颠倒了两位"
    return None


def _shown(text: str) -> str:
    """A line quoted back to the user: printable characters only, at most 20."""
    kept = "".join(ch for ch in text if ch.isprintable())
    return kept[:20] + ("…" if len(kept) > 20 else "")


class SerialsRefused(ValueError):
    """The textarea's text is not a list of serials; the message says which line and why."""


def parse_serials(text: str, *, limit: int = MAX_SERIALS) -> list[tuple[int, str]]:
    """``(line number, serial)`` of each serial typed or scanned one per line: lines trimmed,
    blank lines dropped, ``x`` read as ``X``; at most ``limit``; any other text refused with its
    line number (a scanner types a serial and Enter, so one line is one card)."""
    found: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        serial = raw.strip().upper()
        if not serial:
            continue
        problem = serial_problem(serial)
        if problem:
            raise SerialsRefused(f"第 {number} 行「{_shown(raw.strip())}」{problem}")
        found.append((number, serial))
    if not found:
        raise SerialsRefused("请填写卡片编号，每行一个")
    if len(found) > limit:
        raise SerialsRefused(f"一次最多 {limit} 张，这里有 {len(found)} 张：请分批录入")
    return found


def serial_range(first: str, last: str, *, limit: int = MAX_SERIALS) -> tuple[int, dict[str, str]]:
    """How many cards ``first``..``last`` is (both inclusive, both valid serials), or the error
    of each field."""
    first, last = first.strip().upper(), last.strip().upper()
    errors = {name: problem for name, value in (("first", first), ("last", last))
              if (problem := serial_problem(value))}
    if errors:
        return 0, errors
    count = int(last[:-1]) - int(first[:-1]) + 1
    if count < 1:
        return 0, {"last": "结束编号不能小于起始编号"}
    if count > limit:
        return 0, {"last": f"一次最多发放 {limit} 张，这个区间有 {count} 张"}
    return count, {}


CARD_STATES = {"issued": "已发放、未登记去向", "used": "已投入评价箱", "returned": "已退回", "void": "已作废"}


def ratings_message(field_name: str, rule: str, message: str) -> str:
    """A refusal of ratings' in zh-CN where the console knows the rule; the service's words otherwise."""
    leaf = field_name.split(".")[-1] if field_name else ""
    if rule == "unknown_reference" and leaf == "window_id":
        return "没有这个窗口"
    if rule == "unknown_reference" and field_name.startswith(("serials", "votes", "body.serials", "body.votes")):
        return "这张卡从未发放"
    if rule == "roster_rule":
        return "此工作人员不在所选窗口"
    if rule == "check_character":
        return "校验码不对，可能输错了一位或颠倒了两位"
    if found := re.fullmatch(r"card (\S+) is (\w+), not issued", message):
        return f"卡片 {found.group(1)} {CARD_STATES.get(found.group(2), found.group(2))}，不能再登记"
    if "is final" in message:
        return "本月计票已终审，不能再录入或更改"
    if "signed this month already" in message:
        return "已经签过字：三家监督单位须由三个不同账号分别签字"
    if "only a member of" in message:
        return "只有市委考核办、市纪委监委作风办、市政务服务中心的成员可以签字"
    return message


def ratings_errors(problem: Mapping[str, Any], *, serials: Sequence[tuple[int, str]] = (),
                   textarea: str = "serials") -> dict[str, str]:
    """Ratings' refusal (problem+json) as ``{field: message}`` for a form: a serial it names (by
    index: ``serials.3``, ``votes.3.serial``; or in its message) on the textarea with the line the
    serial was on (``serials``: :func:`parse_serials`' answer), other fields by their last part,
    the problem's detail under ``_``; in zh-CN where the rule is known."""
    out: dict[str, str] = {}
    line_of = {s: n for n, s in serials}
    for e in problem.get("errors") or []:
        name, rule = str(e.get("field", "")), str(e.get("type", ""))
        said = str(e.get("message") or field_message(rule))
        message = ratings_message(name, rule, said)
        at = re.fullmatch(r"(?:body\.)?(?:serials|votes)\.(\d+)(?:\.\w+)?", name)
        named = next((line_of[s] for s in re.findall(r"[0-9]{10}[0-9X]", said) if s in line_of), None)
        if at and int(at.group(1)) < len(serials):
            out.setdefault(textarea, f"第 {serials[int(at.group(1))][0]} 行：{message}")
        elif (at or name.split(".")[-1] in ("serials", "votes")) and named is not None:
            out.setdefault(textarea, f"第 {named} 行：{message}")
        elif at or name.split(".")[-1] in ("serials", "votes"):
            out.setdefault(textarea, message)
        else:
            out.setdefault(name.split(".")[-1] or "_", message)
    detail = str(problem.get("detail") or problem.get("title") or "")
    out.setdefault("_", "没有办成，请按提示修改后再提交。" if out else ratings_message("", "", detail))
    return out


def ratings_summary(problem: Mapping[str, Any]) -> str:
    """Ratings' refusal in one line, for a form without fields (a button): what each field's
    error says, or the detail."""
    errors = ratings_errors(problem)
    return "；".join(dict.fromkeys(v for k, v in errors.items() if k != "_")) or errors["_"]


# -- windows, the day's reconciliation, the box ------------------------------------------------------------
def window_options(windows: Iterable[Mapping[str, Any]]) -> list[tuple[str, str]]:
    return [(str(w["window_id"]), f"{w.get('name') or w['window_id']}（{w['window_id']}）")
            for w in sorted(windows, key=lambda w: str(w.get("window_id")))]


def staff_groups(windows: Iterable[Mapping[str, Any]]) -> list[tuple[str, list[tuple[str, str]]]]:
    """The staff select's groups: each window with its staff accounts (and names, if given)."""
    groups = []
    for w in sorted(windows, key=lambda w: str(w.get("window_id"))):
        names = w.get("staff_names") or {}
        staff = [(str(s), f"{names[s]}（{s}）" if s in names else str(s)) for s in w.get("staff") or []]
        if staff:
            groups.append((str(w.get("name") or w["window_id"]), staff))
    return groups


@dataclass(frozen=True)
class ReconRow:
    window_id: str
    window: str
    done: bool            # reconciled today
    issued: int = 0
    used: int = 0
    returned: int = 0
    void: int = 0
    missing: tuple[str, ...] = ()
    balanced: bool = True

    @property
    def alarm(self) -> bool:
        return self.done and not self.balanced


def day_report(reconciliations: Iterable[Mapping[str, Any]],
               windows: Iterable[Mapping[str, Any]]) -> list[ReconRow]:
    """Every window of the day: reconciled or not yet; mismatches (the alarm) first."""
    names = {str(w["window_id"]): str(w.get("name") or w["window_id"]) for w in windows}
    rows = {str(r["window_id"]): ReconRow(
        str(r["window_id"]), names.get(str(r["window_id"]), str(r["window_id"])), True, int(r.get("issued", 0)),
        int(r.get("used", 0)), int(r.get("returned", 0)), int(r.get("void", 0)), tuple(r.get("missing") or ()),
        bool(r.get("balanced"))) for r in reconciliations}
    for wid, name in names.items():
        rows.setdefault(wid, ReconRow(wid, name, False))
    return sorted(rows.values(), key=lambda r: (not r.alarm, r.done, r.window_id))


@dataclass(frozen=True)
class BodySignOff:
    body: str
    name: str
    account: str | None = None
    at: datetime | None = None


@dataclass(frozen=True)
class BoxView:
    month: str
    final: bool
    bodies: list[BodySignOff]
    flagged: list[dict[str, Any]]
    result: Mapping[str, Any] | None
    can_sign: bool
    sign_note: str

    @property
    def missing(self) -> list[str]:
        return [b.name for b in self.bodies if b.account is None]


def box_view(box: Mapping[str, Any], role: Role, sub: str, department: str | None) -> BoxView:
    """A month's box opening (ratings' ``BoxOut``) for this user: which bodies signed and which
    are missing, whether this user may sign (an oversight member of a body not signed yet,
    whose account has not signed) and why not, the flagged cards in words."""
    signed = {str(s.get("body")): s for s in box.get("sign_offs") or []}
    bodies = [BodySignOff(code, name, signed[code].get("account") if code in signed else None,
                          parse_time(signed[code].get("at")) if code in signed else None)
              for code, name in OVERSIGHT_BODIES.items()]
    accounts = {str(s.get("account")) for s in signed.values()}
    final = bool(box.get("final"))
    can = False
    if final:
        note = "三家监督单位均已签字，本月计票结果已终审，不能再录入或签字。"
    elif role is not Role.OVERSIGHT:
        note = "签字确认由三家监督单位（市委考核办、市纪委监委作风办、市政务服务中心）的成员以本人账号登录后进行。"
    elif department not in OVERSIGHT_BODIES:
        note = ("您的账号没有标明所属监督单位（市委考核办、市纪委监委作风办或市政务服务中心），不能签字。"
                "请联系统一身份认证平台的管理员。")
    elif sub in accounts:
        note = "您已签字。三家监督单位须由三个不同账号分别签字。"
    elif department in signed:
        note = f"{OVERSIGHT_BODIES[department]}已由 {signed[department].get('account')} 签字。"
    else:
        can, note = True, f"您将以{OVERSIGHT_BODIES[department]}（账号 {sub}）的名义签字确认本月计票。"
    flagged = [{**v, "reason": VOTE_FLAGS.get(str(v.get("flag")), str(v.get("flag"))),
                "level_label": LEVELS.get(str(v.get("level")), str(v.get("level")))} for v in box.get("flagged") or []]
    return BoxView(str(box.get("month", "")), final, bodies, flagged, box.get("result"), can, note)


def box_done(done: str, n: int, flagged: int) -> str:
    """The confirmation after a step of the box opening (PRG's ``?done=``)."""
    if done == "counted":
        return f"已录入 {n} 张：计入 {n - flagged} 张" + (f"，可疑 {flagged} 张（未计入，见下方可疑卡片）" if flagged else "") + "。"
    return {"opened": "本月计票已开启。", "signed": "已签字确认。"}.get(done, "")


def serials_field(text: str) -> tuple[list[tuple[int, str]], dict[str, str]]:
    """The serials typed in a form's 卡片编号 field with their line numbers, or its error
    beside the field (``{"serials": ...}``) and none."""
    try:
        return parse_serials(text), {}
    except SerialsRefused as exc:
        return [], {"serials": str(exc)}
