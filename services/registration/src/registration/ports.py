"""What the use cases depend on, besides the kit's ``Tx[Repositories]`` /
``UnitOfWork[Repositories]`` and ``Clock``: the repositories (declared once), the calendar,
who is calling, a fired timer. Adapters: repository.py, the kit, the tests' fakes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from registration.domain import Case
from registration.domain.statistics import Count
from servicekit.ports import Timers
from servicekit.workdays import Deadline


class CaseRepository(Protocol):
    async def add(self, case: Case) -> None:
        """Insert; raises NameTaken when the company name is held by another case."""

    async def get(self, case_number: str) -> Case:
        """The case; raises NotFound."""

    async def get_many(self, case_numbers: list[str]) -> dict[str, Case]:
        """The cases that exist among ``case_numbers``, by number."""

    async def holding_name(self, company_name: str) -> Case | None:
        """The case that holds (has registered or applies for) the company name, if any."""

    async def save(self, case: Case) -> None:
        """Replace the case if its version is unchanged, and bump it; raises ConcurrentUpdate otherwise."""

    async def save_many(self, cases: list[Case]) -> None:
        """Replace each case if its version is unchanged (one bulk write); raises ConcurrentUpdate otherwise."""

    async def rename(self, case: Case, old_name: str) -> None:
        """Hold the case's (new) company name and release ``old_name``; raises NameTaken when
        another case holds the new one."""

    async def release_name(self, case: Case) -> None: ...
    async def open_due_before(self, before: datetime, limit: int) -> list[Case]: ...
    async def next_code_sequence(self, division_code: str) -> int: ...

    async def open_provisional(self, limit: int) -> list[Case]:
        """Open accepted cases whose deadline is provisional, earliest due first."""


class StatsRepository(Protocol):
    """Running tallies of the statistics, written in the case's transaction."""

    async def count(self, counts: Sequence[Count]) -> None:
        """Add ``counts`` (one write; nothing if empty)."""

    async def sums(self, periods: list[str]) -> dict[tuple[str, str, str], int]:
        """The tallies of ``periods`` (months or days) by (period, kind, measure)."""


class Repositories(Protocol):
    """The repositories of one transaction (``tx.repos``) or of a read."""

    @property
    def cases(self) -> CaseRepository: ...

    @property
    def stats(self) -> StatsRepository: ...

    @property
    def timers(self) -> Timers: ...


class Calendar(Protocol):
    def deadline(self, start: datetime, n: int) -> Deadline:
        """The end of ``n`` working days after ``start``, and the unknown years it was counted through."""


class DueTimer(Protocol):
    """A deadline timer that fired (the kit's sweeper hands it over)."""

    @property
    def kind(self) -> str: ...

    @property
    def payload(self) -> Mapping[str, Any]: ...


__all__ = ["Calendar", "CaseRepository", "DueTimer", "Repositories", "StatsRepository"]
