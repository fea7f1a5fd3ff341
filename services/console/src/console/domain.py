"""What the console's pages show, computed from the services' answers: pure, no I/O.

The pages (``pages/``) fetch; this module decides: who sees which page, how a deadline
reads (time left, in working days and hours), how the SLA board groups cases, how personal
data is masked for a reader not entitled to it, and how a table becomes a safe CSV file.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

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
