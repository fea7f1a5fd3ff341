"""The roster: windows, their names, staff accounts and business, managed by operators and
supervisors; and what the hall's screens show of it (public)."""

from __future__ import annotations

from dataclasses import dataclass

from ratings.domain import Tally, Window, day_of
from ratings.ports import Repositories
from ratings.service.common import require
from servicekit.clock import Clock
from servicekit.ports import Tx, UnitOfWork
from servicekit.principal import Principal, Role


@dataclass(frozen=True)
class HallView:
    """The hall screen: every window with its business and staff, and today's ratings."""

    windows: list[Window]
    day: str
    today: Tally


class Roster:
    def __init__(self, *, uow: UnitOfWork[Repositories], clock: Clock) -> None:
        self.uow, self.clock = uow, clock

    async def put(self, caller: Principal, window: Window) -> Window:
        """Create or replace a window; a staff member works at one window only (moved if listed elsewhere)."""
        require(caller, Role.OPERATOR, Role.SUPERVISOR)

        async def work(tx: Tx[Repositories]) -> Window:
            await tx.repos.windows.put(window)
            return window

        return await self.uow.run(work)

    async def all(self) -> list[Window]:
        return await self.uow.read(lambda repos: repos.windows.all())

    async def hall(self) -> HallView:
        """What the hall's screens show (no login: staff ids and names only, as worn at the window)."""
        day = day_of(self.clock.now())

        async def read(repos: Repositories) -> HallView:
            return HallView(await repos.windows.all(), day, await repos.stats.day(day))

        return await self.uow.read(read)
