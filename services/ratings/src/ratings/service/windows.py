"""The roster: windows, their names and staff accounts, managed by operators and supervisors."""

from __future__ import annotations

from ratings.domain import Window
from ratings.ports import Repositories
from ratings.service.common import require
from servicekit.ports import Tx, UnitOfWork
from servicekit.principal import Principal, Role


class Roster:
    def __init__(self, *, uow: UnitOfWork[Repositories]) -> None:
        self.uow = uow

    async def put(self, caller: Principal, window: Window) -> Window:
        """Create or replace a window; a staff member works at one window only (moved if listed elsewhere)."""
        require(caller, Role.OPERATOR, Role.SUPERVISOR)

        async def work(tx: Tx[Repositories]) -> Window:
            await tx.repos.windows.put(window)
            return window

        return await self.uow.run(work)

    async def all(self) -> list[Window]:
        return await self.uow.read(lambda repos: repos.windows.all())
