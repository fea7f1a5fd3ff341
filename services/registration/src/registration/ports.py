"""Ports the use cases depend on; adapters live in repository.py and the kit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any, Protocol, TypeVar

from contracts import Event
from registration.domain import Case

T = TypeVar("T")


class CaseRepository(Protocol):
    async def add(self, case: Case) -> None:
        """Insert; raises NameTaken, or DuplicateSubmission for a repeated idempotency key."""

    async def get(self, case_number: str) -> Case | None: ...
    async def get_many(self, case_numbers: list[str]) -> dict[str, Case]: ...
    async def by_idempotency_key(self, applicant_id: str, key: str) -> Case | None: ...
    async def save(self, case: Case) -> None: ...
    async def save_many(self, cases: list[Case]) -> None:
        """Replace each case if its version is unchanged (one bulk write); raises ConcurrentUpdate otherwise."""
    async def release_name(self, case: Case) -> None: ...
    async def open_due_before(self, before: datetime, limit: int) -> list[Case]: ...
    async def next_code_sequence(self, division_code: str) -> int: ...


class Timers(Protocol):
    async def schedule(self, key: str, kind: str, due_at: datetime, payload: dict[str, Any]) -> Any: ...
    async def cancel(self, key: str) -> Any: ...
    async def schedule_new(self, timers: list[tuple[str, str, datetime, dict[str, Any]]]) -> Any: ...
    async def cancel_many(self, keys: list[str]) -> Any: ...


class Tx(Protocol):
    cases: CaseRepository
    timers: Timers

    def emit(self, events: Iterable[Event]) -> None: ...
    async def mark_processed(self, consumer: str, event_id: str) -> None: ...
    async def processed_among(self, consumer: str, event_ids: list[str]) -> set[str]: ...
    async def mark_processed_many(self, consumer: str, event_ids: list[str]) -> None: ...


class UnitOfWork(Protocol):
    async def run(self, fn: Callable[[Any], Awaitable[T]]) -> T | None:
        """In a transaction, with the events emitted written to the outbox."""

    async def read(self, fn: Callable[[Any], Awaitable[T]]) -> T:
        """Without a transaction: reads only."""


class Calendar(Protocol):
    def add_workdays(self, start: datetime, n: int) -> datetime: ...
