"""Use cases: load → domain → save + events, in one unit of work; dependencies keyword-only."""

from __future__ import annotations

from ratings.ports import Repositories
from servicekit.ports import UnitOfWork


class Ratings:
    def __init__(self, *, uow: UnitOfWork[Repositories]) -> None:
        self.uow = uow
