"""The kit's ports, typed and I/O-free: what a service's use cases depend on.

A service declares its repositories once, as a Protocol in its ``ports`` module, and
types its use cases against ``UnitOfWork[Repositories]``; the kit's MongoDB adapter
(:mod:`servicekit.uow`) and the shared test fake both satisfy these Protocols::

    class Repositories(Protocol):
        @property
        def cases(self) -> CaseRepository: ...
        @property
        def timers(self) -> Timers: ...

    async def work(tx: Tx[Repositories]) -> Case:
        case = await tx.repos.cases.get(number)
        ...
        tx.emit(events)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from contracts import Event

R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)
T = TypeVar("T")
E = TypeVar("E", bound=Event)


class Tx(Protocol[R_co]):
    """One transaction: the service's repositories bound to it, and the events to publish."""

    @property
    def repos(self) -> R_co: ...

    def emit(self, events: Iterable[Event]) -> None:
        """Queue integration events: written to the outbox in this transaction."""


class Transaction(Generic[R]):
    """The part of a transaction every unit of work shares (the MongoDB one and test fakes):
    the repositories bound to it and the events emitted, to be written with its commit."""

    def __init__(self, repos: R) -> None:
        self._repos = repos
        self.events: list[Event] = []

    @property
    def repos(self) -> R:
        return self._repos

    def emit(self, events: Iterable[Event]) -> None:
        self.events.extend(events)


class UnitOfWork(Protocol[R_co]):
    async def run(self, fn: Callable[[Tx[R_co]], Awaitable[T]]) -> T:
        """``fn`` in one transaction, its emitted events in the same commit. A
        ConcurrentUpdate runs ``fn`` again on fresh state (bounded), then propagates."""

    async def consume(self, consumer: str, events: Sequence[E],
                      fn: Callable[[Tx[R_co], list[E]], Awaitable[T]]) -> T:
        """Idempotent consumption: in one transaction, ``fn`` gets only the ``events`` that
        ``consumer`` has not handled before (possibly none), and they are marked handled
        in the same commit."""

    async def read(self, fn: Callable[[R_co], Awaitable[T]]) -> T:
        """``fn`` without a transaction, for reads."""

    async def autocommit(self, fn: Callable[[R_co], Awaitable[T]]) -> T:
        """``fn`` without a transaction, for single-document writes that need no atomicity
        with anything else and emit no event."""


class Timers(Protocol):
    """Durable deadline timers, written in the caller's transaction (fired by the kit's sweeper)."""

    async def schedule(self, key: str, kind: str, due_at: datetime, payload: Mapping[str, Any] | None = None) -> bool: ...
    async def cancel(self, key: str) -> bool: ...
    async def schedule_new(self, timers: list[tuple[str, str, datetime, Mapping[str, Any]]]) -> None: ...
    async def cancel_many(self, keys: list[str]) -> int: ...


__all__ = ["Timers", "Transaction", "Tx", "UnitOfWork"]
