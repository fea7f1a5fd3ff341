"""Registration's figures (统计): applications submitted and completed per month and matter
kind, how many were completed within their time limit (1 working day), how many open cases
are overdue, and today's counts for the hall screen.

The figures are running tallies (decision 41's approach, the kit's ``servicekit.tallies``):
each transaction counts what its case recorded (:func:`counts`), and a report reads a few
small documents (:func:`report`). Months and days are local (Asia/Shanghai). Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, get_args

from registration.domain import events as facts
from registration.domain.events import Kind
from servicekit.aggregate import DomainEvent
from servicekit.clock import CN_TZ

Measure = Literal["submitted", "completed", "within_limit", "overdue_open"]
KINDS: tuple[Kind, ...] = get_args(Kind)


@dataclass(frozen=True)
class Count:
    """+n (or -n) on one tally: ``period`` a month (``2026-11``) or a day (``2026-11-27``)."""

    period: str
    kind: str
    measure: Measure
    n: int = 1


def local_month(at: datetime) -> str:
    return at.astimezone(CN_TZ).strftime("%Y-%m")


def local_day(at: datetime) -> str:
    return at.astimezone(CN_TZ).strftime("%Y-%m-%d")


def counts(*, kind: str, submitted_at: datetime, overdue: bool, recorded: Sequence[DomainEvent],
           now: datetime) -> list[Count]:
    """What a case's newly recorded facts add to the tallies (``overdue``: the case is marked
    overdue, now or earlier). Submitted and completed count in the month and the day they
    happened, within-limit with completed; an overdue case counts as open and overdue in the
    month it was submitted, until it is completed or rejected."""
    month, day, since = local_month(now), local_day(now), local_month(submitted_at)
    out: list[Count] = []
    for fact in recorded:
        if isinstance(fact, facts.ApplicationSubmitted):
            out += [Count(month, kind, "submitted"), Count(day, kind, "submitted")]
        elif isinstance(fact, facts.CaseOverdue):
            out.append(Count(since, kind, "overdue_open"))
        elif isinstance(fact, facts.CaseCompleted):
            out += [Count(month, kind, "completed"), Count(day, kind, "completed")]
            if fact.within_time_limit:
                out.append(Count(month, kind, "within_limit"))
        if isinstance(fact, facts.CaseCompleted | facts.CaseRejected) and overdue:
            out.append(Count(since, kind, "overdue_open", -1))
    return out


@dataclass(frozen=True)
class MatterFigures:
    kind: Kind
    submitted: int
    completed: int
    within_limit: int
    overdue_open: int

    @property
    def attainment(self) -> float | None:
        """Completed within the time limit, of those completed (None: none completed)."""
        return self.within_limit / self.completed if self.completed else None


@dataclass(frozen=True)
class DayFigures:
    date: str
    submitted: int
    completed: int


@dataclass(frozen=True)
class Report:
    month: str
    matters: list[MatterFigures]
    today: DayFigures


def report(month: str, today: date, tallies: Mapping[tuple[str, str, str], int]) -> Report:
    """The month's figures per kind (every kind, zero if nothing happened) and today's, from
    ``tallies`` summed by (period, kind, measure)."""
    def n(period: str, kind: str, measure: Measure) -> int:
        return max(0, tallies.get((period, kind, measure), 0))

    day = today.isoformat()
    matters = [MatterFigures(k, n(month, k, "submitted"), n(month, k, "completed"), n(month, k, "within_limit"),
                             n(month, k, "overdue_open")) for k in KINDS]
    return Report(month, matters, DayFigures(day, sum(n(day, k, "submitted") for k in KINDS),
                                             sum(n(day, k, "completed") for k in KINDS)))
