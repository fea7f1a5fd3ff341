"""统计 / statistics: a month's satisfaction (by month, by window), bad ratings by department,
SLA attainment per matter, 企业开办 within one working day, callback and reply rates; each
chart with its table and the table as CSV. Each section reads its own service: one that does
not answer (or refuses the role) leaves that section saying so, the rest of the page shows."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from console import domain
from console.backends import BackendDown, BackendProblem
from console.domain import reports
from console.domain.charts import Table
from console.sessions import Session
from console.web import Console, allowed, console, render

router = APIRouter(prefix="/statistics", include_in_schema=False)
Viewer = Annotated[Session, Depends(allowed(domain.STATS_ROLES))]
MonthText = Annotated[str | None, Query(max_length=20)]
TableName = Literal["monthly", "windows", "departments", "sla", "startup", "followup"]


@dataclass(frozen=True)
class Section:
    """A table of the page, or why it has none (``note``)."""

    table: Table
    note: str = ""
    status: int = 200  # what a CSV download of it answers when it has no figures (403, 404, 503)


@dataclass(frozen=True)
class Missing:
    note: str
    status: int


def _why(exc: BackendDown | BackendProblem) -> Missing:
    name = reports.SERVICE_LABELS.get(exc.service, exc.service)
    if isinstance(exc, BackendProblem) and exc.status == 403:
        return Missing("您的角色无权查看此项统计。", 403)
    if isinstance(exc, BackendProblem) and exc.status == 404:
        return Missing(f"{name}服务尚未提供此项统计。", 404)
    return Missing(f"暂无数据：{name}服务暂时没有应答。", 503)


async def _try(call: Awaitable[Any]) -> tuple[Any, Missing | None]:
    """The answer, or ``None`` and why (a refusal or a silent service is a note, not an error page)."""
    try:
        return await call, None
    except (BackendDown, BackendProblem) as exc:
        if isinstance(exc, BackendProblem) and exc.status == 401:
            raise  # the login expired: the error handler sends the user to log in again
        return None, _why(exc)


def _section(table: Table, *missing: Missing | None) -> Section:
    found = [m for m in missing if m is not None]
    if not found:
        return Section(table)
    return Section(table, " ".join(dict.fromkeys(m.note for m in found)), max(m.status for m in found))


class Reader:
    """The month's figures from the services, with the user's token; each read at most once."""

    def __init__(self, c: Console, session: Session, month: str) -> None:
        self.c, self.session, self.month = c, session, month
        self._reads: dict[tuple[str, str, tuple[tuple[str, str], ...]], asyncio.Future[Any]] = {}

    def _get(self, service: str, path: str, **params: str) -> Awaitable[Any]:
        """One read shared by the sections that need it (e.g. registration's statistics)."""
        key = (service, path, tuple(sorted(params.items())))
        if key not in self._reads:
            self._reads[key] = asyncio.ensure_future(
                self.c.backends.get(service, path, token=self.session.token, params=params or None))
        return self._reads[key]

    async def monthly(self) -> Section:
        months = reports.months_back(self.month)
        answers = await asyncio.gather(*(_try(self._get("ratings", "/statistics", month=m, by="month"))
                                         for m in months))
        table = reports.monthly_table({m: a for m, (a, _) in zip(months, answers, strict=True)})
        if all(a is None for a, _ in answers):  # a month or two missing shows as — in its row
            return _section(table, answers[-1][1])
        return Section(table)

    async def windows(self) -> Section:
        (report, missing), (roster, _) = await asyncio.gather(
            _try(self._get("ratings", "/statistics", month=self.month, by="window")),
            _try(self._get("ratings", "/windows")))
        return _section(reports.window_table(report, roster or [] if report is not None else [],
                                             self.session.principal.role), missing)

    async def departments(self) -> Section:
        report, missing = await _try(self._get("ratings", "/statistics", month=self.month, by="department"))
        return _section(reports.department_table(report), missing)

    async def sla(self) -> Section:
        (reg, reg_missing), (apr, apr_missing) = await asyncio.gather(
            _try(self._get("registration", "/statistics", month=self.month)),
            _try(self._get("approvals", "/statistics")))
        return _section(reports.sla_table(reg, apr), reg_missing, apr_missing)

    async def startup(self) -> Section:
        reg, missing = await _try(self._get("registration", "/statistics", month=self.month))
        return _section(reports.startup_table(reg), missing)

    async def followup(self) -> tuple[Section, reports.Followup]:
        report, missing = await _try(self._get("ratings", "/statistics", month=self.month, by="window"))
        f = reports.followup(report)
        return _section(f.table, missing), f


def _month(request_month: str | None, c: Console) -> tuple[str, str]:
    """The month asked for (this month by default), and an error if the text is not one."""
    if request_month is None or request_month == "":
        return reports.month_of(c.clock.now()), ""
    if not reports.valid_month(request_month):
        return reports.month_of(c.clock.now()), "月份格式应为 年-月，例如 2026-11"
    return request_month, ""


@router.get("")
async def page(request: Request, session: Viewer, month: MonthText = None, c: Console = Depends(console)) -> Response:
    chosen, error = _month(month, c)
    r = Reader(c, session, chosen)
    monthly, windows, departments, sla, startup, (followup_section, followup) = await asyncio.gather(
        r.monthly(), r.windows(), r.departments(), r.sla(), r.startup(), r.followup())
    return render(request, "statistics.html", 422 if error else 200, session=session, month=chosen,
                  errors={"month": error} if error else {}, values={"month": month if error else chosen},
                  charts=[monthly, windows, departments, sla, startup], followup_section=followup_section,
                  followup=followup)


@router.get("/{table}.csv")
async def csv(request: Request, table: TableName, session: Viewer, month: MonthText = None,
              c: Console = Depends(console)) -> Response:
    chosen, error = _month(month, c)
    if error:
        return render(request, "error.html", 422, session=session, title="请求有误", message=error)
    r = Reader(c, session, chosen)
    section = (await r.followup())[0] if table == "followup" else await getattr(r, table)()
    if section.note and not section.table.rows:  # no figures: say so, not a file that looks empty
        return render(request, "error.html", section.status, session=session, title="暂无数据",
                      message=section.note)
    body = domain.to_csv(section.table.headers, section.table.rows)
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{table}-{chosen}.csv"'})
