"""What the statistics, operations and hall pages show, shaped from the services' answers:
pure (no I/O). The pages fetch; these functions decide the tables, their charts and what a
missing figure reads as. Every answer is read defensively (``.get`` with a default): a
service that lacks a field, or sends one more, changes a cell, never the page.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from console import domain
from console.domain.charts import PALETTE, Cell, ChartSpec, Series, Table, percent
from servicekit.clock import CN_TZ, ensure_utc
from servicekit.principal import Role

MONTH = re.compile(r"^20[0-9]{2}-(0[1-9]|1[0-2])$")
TREND_MONTHS = 6


# -- months ----------------------------------------------------------------------------------------------
def month_of(now: datetime) -> str:
    """The month (YYYY-MM) ``now`` falls in, in Beijing time."""
    return ensure_utc(now).astimezone(CN_TZ).strftime("%Y-%m")


def valid_month(text: str | None) -> bool:
    return bool(text) and MONTH.fullmatch(text or "") is not None


def months_back(month: str, n: int = TREND_MONTHS) -> list[str]:
    """The ``n`` months ending with ``month``, oldest first."""
    year, mon = int(month[:4]), int(month[5:7])
    index = year * 12 + mon - 1
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(index - n + 1, index + 1)]


# -- small readers ------------------------------------------------------------------------------------------
def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _opt_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _rows(report: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    rows = (report or {}).get("rows") or []
    return [r for r in rows if isinstance(r, Mapping)]


def _satisfaction(row: Mapping[str, Any]) -> float | None:
    """The satisfaction rate in percent, ``None`` without ratings (the service says 100 %)."""
    return percent(row.get("satisfaction_rate")) if _int(row.get("total")) else None


# -- 统计 / statistics ----------------------------------------------------------------------------------------
TABLES = ("monthly", "windows", "departments", "sla", "startup", "followup")


def monthly_table(reports: Mapping[str, Mapping[str, Any] | None]) -> Table:
    """Satisfaction by month: ``reports`` maps each month (oldest first) to ratings'
    ``by=month`` report of it, ``None`` when it could not be read."""
    rows: list[tuple[Cell, ...]] = []
    for month, report in reports.items():
        if report is None:
            rows.append((month, None, None, None))
            continue
        total = sum(_int(r.get("total")) for r in _rows(report))
        bad = sum(_int(r.get("bad")) for r in _rows(report))
        rows.append((month, total, bad, round((total - bad) / total * 100, 1) if total else None))
    return Table("monthly", "满意率（按月）", ("月份", "评价数", "差评数", "满意率（%）"), rows,
                 ChartSpec("line", (Series("满意率（%）", 3, PALETTE[0]),), percent=True, axis_title="满意率（%）"))


def window_table(report: Mapping[str, Any] | None, windows: Iterable[Mapping[str, Any]], role: Role) -> Table:
    """Satisfaction by window: every window of the roster (one without ratings shows —),
    and any window the ratings name that the roster no longer has."""
    by_id = {str(r.get("key")): r for r in _rows(report)}
    roster = {str(w.get("window_id")): w for w in windows if isinstance(w, Mapping) and w.get("window_id")}
    rows: list[tuple[Cell, ...]] = []
    for wid in sorted(roster.keys() | by_id.keys()):
        w, r = roster.get(wid, {}), by_id.get(wid, {})
        name = str(domain.masked(w.get("name") or wid, role))
        department = domain.DEPARTMENTS.get(str(w.get("department") or ""), w.get("department") or "—")
        rows.append((name, department, _int(r.get("total")), _int(r.get("online")), _int(r.get("paper")),
                     _int(r.get("bad")), _satisfaction(r)))
    return Table("windows", "满意率（按窗口）", ("窗口", "部门", "评价数", "线上", "纸质", "差评数", "满意率（%）"), rows,
                 ChartSpec("bar", (Series("满意率（%）", 6, PALETTE[0]),), percent=True, horizontal=True,
                           axis_title="满意率（%）"))


def department_table(report: Mapping[str, Any] | None) -> Table:
    """Bad ratings by department (most first), with the ledger entries overdue there."""
    overdue = (report or {}).get("overdue_by_department") or {}
    keyed = {str(r.get("key")): r for r in _rows(report)}
    codes = set(keyed) | {str(k) for k in overdue if isinstance(overdue, Mapping)}
    rows: list[tuple[Cell, ...]] = []
    for code in codes:
        r = keyed.get(code, {})
        rows.append((domain.DEPARTMENTS.get(code, "未知部门" if code in ("unknown", "None", "") else code),
                     _int(r.get("total")), _int(r.get("bad")), _satisfaction(r),
                     _int(overdue.get(code)) if isinstance(overdue, Mapping) else 0))
    rows.sort(key=lambda t: (-_int(t[2]), str(t[0])))
    return Table("departments", "差评数（按部门）", ("部门", "评价数", "差评数", "满意率（%）", "差评整改逾期"), rows,
                 ChartSpec("bar", (Series("差评数", 2, PALETTE[1]), Series("差评整改逾期", 4, PALETTE[3])),
                           axis_title="件"))


def _matters(registration: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    return [m for m in (registration or {}).get("matters") or [] if isinstance(m, Mapping)]


def sla_table(registration: Mapping[str, Any] | None, approvals: Sequence[Mapping[str, Any]] | None) -> Table:
    """SLA attainment per matter: registration's completed within the time limit, and
    approvals' stages completed the same working day (当日办结)."""
    rows: list[tuple[Cell, ...]] = []
    for m in _matters(registration):
        kind = str(m.get("kind", ""))
        rows.append((domain.MATTERS.get(kind, kind), "时限内办结", _int(m.get("completed")),
                     _int(m.get("within_limit")), percent(m.get("attainment"))))
    for s in approvals or []:
        if not isinstance(s, Mapping):
            continue
        stage = str(s.get("stage", ""))
        rows.append((domain.STAGES.get(stage, stage), "当日办结", _int(s.get("completed")), _int(s.get("same_day")),
                     percent(s.get("same_day_share"))))
    return Table("sla", "时限达标率（按事项）", ("事项", "指标", "办结数", "达标数", "达标率（%）"), rows,
                 ChartSpec("bar", (Series("达标率（%）", 4, PALETTE[2]),), percent=True, horizontal=True,
                           axis_title="达标率（%）"))


STARTUP_KINDS = ("startup", "establishment")  # registration's own word is "establishment"


def startup_table(registration: Mapping[str, Any] | None) -> Table:
    """企业开办 within one working day: the start-up matter's row of registration's statistics."""
    rows: list[tuple[Cell, ...]] = []
    for m in _matters(registration):
        if m.get("kind") not in STARTUP_KINDS:
            continue
        completed, within = _int(m.get("completed")), _int(m.get("within_limit"))
        rows.append((domain.MATTERS["startup"], _int(m.get("submitted")), completed, within, max(completed - within, 0),
                     _int(m.get("overdue_open")), percent(m.get("attainment"))))
    return Table("startup", "企业开办 1 个工作日办结", ("事项", "受理", "办结", "1 个工作日内办结", "超时办结", "逾期未办结",
                                                "达标率（%）"), rows,
                 ChartSpec("doughnut", (Series("1 个工作日内办结", 3, PALETTE[2]), Series("超时办结", 4, PALETTE[3]),
                                        Series("逾期未办结", 5, PALETTE[1]))))


@dataclass(frozen=True)
class Followup:
    """Callback and reply rates of the month's bad ratings, and what keeps them below 100 %."""

    table: Table
    not_called_back: list[str]
    not_replied: list[str]
    requests_unanswered: list[str]
    ledger_entries: int
    requests: int


def _ids(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def followup(report: Mapping[str, Any] | None) -> Followup:
    r = report or {}
    not_called, not_replied, unanswered = (_ids(r.get("not_called_back")), _ids(r.get("not_replied")),
                                           _ids(r.get("requests_unanswered")))
    entries, requests = _int(r.get("ledger_entries")), _int(r.get("requests"))
    rows: list[tuple[Cell, ...]] = [] if report is None else [
        ("差评回访率", entries, percent(r.get("callback_rate")) if entries else None, len(not_called), "、".join(not_called)),
        ("差评答复率", entries, percent(r.get("reply_rate")) if entries else None, len(not_replied), "、".join(not_replied)),
        ("咨询投诉答复率", requests, percent(r.get("request_reply_rate")) if requests else None, len(unanswered),
         "、".join(unanswered)),
    ]
    table = Table("followup", "回访率与答复率", ("项目", "应办数", "比率（%）", "未办数", "未办的办件或请求"), rows)
    return Followup(table, not_called, not_replied, unanswered, entries, requests)


# -- 运维 / operations -----------------------------------------------------------------------------------------
SERVICE_LABELS = {"registration": "企业开办登记", "approvals": "工程建设审批", "ratings": "好差评",
                  "notifications": "消息通知", "crossregion": "跨域通办"}


@dataclass(frozen=True)
class ServiceHealth:
    """One service on the operations page. ``state``: ready | not_ready | down;
    ``status`` its ``/ops/status`` (``None`` with ``status_note`` saying why)."""

    service: str
    state: str
    checks: dict[str, bool]
    status: Mapping[str, Any] | None
    status_note: str = ""

    @property
    def label(self) -> str:
        return SERVICE_LABELS.get(self.service, self.service)

    @property
    def state_text(self) -> str:
        return {"ready": "正常", "not_ready": "未就绪", "down": "无应答"}[self.state]

    @property
    def outbox(self) -> Mapping[str, Any]:
        value = (self.status or {}).get("outbox")
        return value if isinstance(value, Mapping) else {}

    @property
    def errors(self) -> list[str]:
        """What the service could not read for its status (then its figures are the last ones read)."""
        value = (self.status or {}).get("errors")
        return [str(e) for e in value] if isinstance(value, list) else []

    @property
    def dead_letters(self) -> Mapping[str, Any]:
        value = (self.status or {}).get("dead_letters")
        return value if isinstance(value, Mapping) else {}


def service_health(service: str, probe: tuple[int | None, Any], status: Mapping[str, Any] | None,
                   status_note: str = "") -> ServiceHealth:
    """``probe``: the ``(status, body)`` of its ``/readyz`` (``None`` status: no answer)."""
    code, body = probe
    body = body if isinstance(body, Mapping) else {}
    checks = {k: bool(body[k]) for k in ("broker", "database") if k in body and isinstance(body[k], bool)}
    state = "down" if code is None or (code >= 500 and not checks) else ("ready" if code == 200 else "not_ready")
    if status is not None and isinstance(status.get("ready"), Mapping) and not checks:
        checks = {k: bool(v) for k, v in status["ready"].items() if k in ("broker", "database")}
    return ServiceHealth(service, state, checks, status, status_note)


def duration(seconds: Any) -> str:
    """``12 秒`` / ``3 分 05 秒`` / ``2 小时 07 分`` / ``1 天 3 小时``; — when unknown."""
    if seconds is None or isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        return "—"
    s = int(seconds)
    if s < 60:
        return f"{s} 秒"
    if s < 3600:
        return f"{s // 60} 分 {s % 60:02d} 秒"
    if s < 86400:
        return f"{s // 3600} 小时 {s % 3600 // 60:02d} 分"
    return f"{s // 86400} 天 {s % 86400 // 3600} 小时"


@dataclass
class OpsBoard:
    services: list[ServiceHealth]
    subscriptions: list[Mapping[str, Any]] | None
    subscriptions_note: str = ""

    @property
    def ready(self) -> int:
        return sum(1 for s in self.services if s.state == "ready")

    @property
    def outbox_pending(self) -> int:
        return sum(_int(s.outbox.get("pending")) for s in self.services)

    @property
    def dead_letter_total(self) -> int:
        return sum(_int(s.dead_letters.get("total")) for s in self.services)

    def dead_letter_reasons(self) -> list[tuple[str, str, str, int, str]]:
        """``(service, source topic, reason, count, last at)``, most first."""
        out = [(s.label, str(r.get("source_topic", "")), str(r.get("reason", "")), _int(r.get("count")),
                domain.local(_time(r.get("last_at"))))
               for s in self.services for r in s.dead_letters.get("by_reason") or [] if isinstance(r, Mapping)]
        return sorted(out, key=lambda t: (-t[3], t[0], t[1], t[2]))

    def recent_dead_letters(self) -> list[tuple[str, str, str, str, str]]:
        """``(service, source topic, reason, at, key)``, newest first."""
        rows = [(s.label, str(r.get("source_topic", "")), str(r.get("reason", "")), _time(r.get("at")),
                 str(r.get("key") or "—"))
                for s in self.services for r in s.dead_letters.get("recent") or [] if isinstance(r, Mapping)]
        rows.sort(key=lambda t: t[3] or datetime.min.replace(tzinfo=CN_TZ), reverse=True)
        return [(a, b, c, domain.local(at), e) for a, b, c, at, e in rows]

    def consumers(self) -> list[tuple[str, str, str, int | None]]:
        return [(s.label, str(c.get("group", "")), str(c.get("topic", "")), _opt_int(c.get("lag")))
                for s in self.services for c in (s.status or {}).get("consumers") or [] if isinstance(c, Mapping)]

    @property
    def failing_subscriptions(self) -> int:
        return sum(1 for s in self.subscriptions or [] if _int(s.get("failed_24h")) or not s.get("enabled", True))


def _time(value: Any) -> datetime | None:
    try:
        return domain.parse_time(value)
    except (TypeError, ValueError):
        return None


def when(value: Any) -> str:
    """A service's timestamp in Beijing time (— when missing or not a timestamp)."""
    return domain.local(_time(value))


# -- 大厅屏 / hall screens -------------------------------------------------------------------------------------
SCREENS = ("list", "today", "windows")
_KINDS = {"window": "窗口", "staff": "工作人员"}


def public(value: Any) -> Any:
    """What the public may read: phone and ID numbers masked, whatever a service sent (the hall
    is nobody's role: the same masking as for a reader not entitled to personal data)."""
    return domain.masked(value, Role.APPLICANT)


@dataclass(frozen=True)
class Ranked:
    kind: str
    name: str
    ratings: int
    satisfaction: float | None


@dataclass(frozen=True)
class HallList:
    month: str
    until: str
    red: list[Ranked]
    black: list[Ranked]


def _ranked(items: Any) -> list[Ranked]:
    return [Ranked(_KINDS.get(str(r.get("kind")), ""), str(public(r.get("name") or "")), _int(r.get("ratings")),
                   percent(r.get("satisfaction_rate")))
            for r in items or [] if isinstance(r, Mapping)]


def hall_list(lists: Any) -> HallList | None:
    """The latest month's list on display (ratings' ``/lists/current``), ``None`` if none."""
    shown = [x for x in lists if isinstance(x, Mapping) and x.get("month")] if isinstance(lists, list) else []
    if not shown:
        return None
    latest = max(shown, key=lambda x: str(x["month"]))
    until = _time(latest.get("display_until"))
    return HallList(str(latest["month"]), domain.local(until)[:10] if until else "—", _ranked(latest.get("red")),
                    _ranked(latest.get("black")))


@dataclass(frozen=True)
class Today:
    date: str
    submitted: int | None = None
    completed: int | None = None
    ratings: int | None = None
    satisfaction: float | None = None

    @property
    def empty(self) -> bool:
        return self.submitted is None and self.completed is None and self.ratings is None


def hall_today(now: datetime, registration: Mapping[str, Any] | None, hall: Mapping[str, Any] | None) -> Today:
    """Today's figures: cases submitted and completed (registration), ratings and satisfaction
    (ratings); a figure a service did not give stays ``None`` (暂无数据)."""
    today = (hall or {}).get("today") if isinstance((hall or {}).get("today"), Mapping) else {}
    reg = registration or {}
    if isinstance(reg.get("today"), Mapping):  # the same figures nested, as in registration's /statistics
        reg = reg["today"]
    ratings = _opt_int((today or {}).get("ratings"))
    return Today(ensure_utc(now).astimezone(CN_TZ).strftime("%Y-%m-%d"), _opt_int(reg.get("submitted")),
                 _opt_int(reg.get("completed")), ratings,
                 percent((today or {}).get("satisfaction")) if ratings else None)


@dataclass(frozen=True)
class HallWindow:
    name: str
    department: str
    business: list[str] = field(default_factory=list)
    staff: list[str] = field(default_factory=list)


def hall_windows(hall: Mapping[str, Any] | None) -> list[HallWindow]:
    """Each window's current business and the staff on duty (names only, never an account or a
    number: the screen is public)."""
    out = []
    for w in (hall or {}).get("windows") or []:
        if not isinstance(w, Mapping):
            continue
        department = str(w.get("department") or "")
        staff = [str(public(s.get("name") or "")) for s in w.get("staff_on_duty") or []
                 if isinstance(s, Mapping) and s.get("name")]
        business = [str(public(b)) for b in w.get("business") or [] if isinstance(b, str) and b]
        out.append(HallWindow(str(public(w.get("name") or w.get("window_id") or "")),
                              domain.DEPARTMENTS.get(department, str(public(department))), business, staff))
    return out
