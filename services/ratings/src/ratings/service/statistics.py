"""Statistics by window, staff, department, matter and month: counts per level, satisfaction
rate, bad ratings, callback and reply rates (with what keeps them below 100%), overdue entries."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

from ratings.domain import EntryStatus, Forbidden, Tally, rate
from ratings.ports import Repositories
from servicekit.ports import UnitOfWork
from servicekit.principal import Principal

By = Literal["window", "staff", "department", "matter", "month"]


@dataclass(frozen=True)
class Row:
    key: str
    online: Tally
    paper: Tally

    @property
    def total(self) -> Tally:
        return self.online.merge(self.paper)


@dataclass(frozen=True)
class Report:
    month: str
    by: str
    rows: list[Row]
    entries: int
    callback_rate: float
    reply_rate: float
    not_called_back: list[str] = field(default_factory=list)  # ledger entries (case or request) below 100%
    not_replied: list[str] = field(default_factory=list)
    overdue_by_department: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    request_reply_rate: float = 1.0
    requests_unanswered: list[str] = field(default_factory=list)


class Statistics:
    def __init__(self, *, uow: UnitOfWork[Repositories]) -> None:
        self.uow = uow

    async def report(self, caller: Principal, month: str, by: By) -> Report:
        if not caller.is_staff:
            raise Forbidden("statistics are for the center's staff")

        async def read(repos: Repositories) -> Report:
            online, paper = await repos.stats.online(month, by), await repos.stats.paper(month, by)
            rows = [Row(k, online.get(k, Tally()), paper.get(k, Tally())) for k in sorted(online.keys() | paper.keys())]
            entries = await repos.ledger.find(owner_id=None, status=None, month=month, limit=100_000)
            live = [e for e in entries if e.status is not EntryStatus.ANNULLED]
            not_called = [e.case_number for e in live if not e.called_back]
            not_replied = [e.case_number for e in live if not e.replied]
            overdue = Counter(e.department or "unknown" for e in live if e.overdue)
            requests = await repos.requests.of_month(month)
            unanswered = [r.request_id for r in requests if r.reply is None]
            return Report(month, by, rows, len(live), rate(len(live) - len(not_called), len(live)),
                          rate(len(live) - len(not_replied), len(live)), not_called, not_replied, dict(overdue),
                          len(requests), rate(len(requests) - len(unanswered), len(requests)), unanswered)

        return await self.uow.read(read)
