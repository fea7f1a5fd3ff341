"""Shared fakes for use-case tests: a unit of work over in-memory repositories, with the
same contract as the kit's MongoDB one (:class:`servicekit.ports.UnitOfWork`).

A service's unit tests build their repositories' fakes (plain objects with the same
methods as its ``ports``) and wrap them::

    uow = FakeUnitOfWork(FakeRepos(cases=InMemoryCases(), timers=FakeTimers()))
    await use_cases.submit(...)
    assert [type(e) for e in uow.emitted] == [ApplicationSubmittedV1]

A transaction's writes are NOT rolled back on an exception (keep fakes simple), but its
events are only kept when ``fn`` returns, like a commit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from contracts import Event
from servicekit.aggregate import ConcurrentUpdate
from servicekit.ports import Transaction

R = TypeVar("R")
T = TypeVar("T")
E = TypeVar("E", bound=Event)


FakeTx = Transaction  # a fake transaction is just the shared part: repositories and emitted events


class FakeUnitOfWork(Generic[R]):
    def __init__(self, repos: R, *, conflict_attempts: int = 3) -> None:
        self.repos = repos
        self.emitted: list[Event] = []
        self.processed: set[tuple[str, str]] = set()
        self.commits = 0
        self.conflict_attempts = conflict_attempts

    async def run(self, fn: Callable[[FakeTx[R]], Awaitable[T]]) -> T:
        for attempt in range(1, self.conflict_attempts + 1):
            tx = FakeTx(self.repos)
            try:
                result = await fn(tx)
            except ConcurrentUpdate:
                if attempt == self.conflict_attempts:
                    raise
                continue
            self.emitted.extend(tx.events)
            self.commits += 1
            return result
        raise AssertionError("unreachable")

    async def consume(self, consumer: str, events: Sequence[E],
                      fn: Callable[[FakeTx[R], list[E]], Awaitable[T]]) -> T:
        async def work(tx: FakeTx[R]) -> T:
            fresh = []
            for e in events:
                if (consumer, e.event_id) not in self.processed:
                    self.processed.add((consumer, e.event_id))
                    fresh.append(e)
            return await fn(tx, fresh)

        return await self.run(work)

    async def read(self, fn: Callable[[R], Awaitable[T]]) -> T:
        return await fn(self.repos)

    async def autocommit(self, fn: Callable[[R], Awaitable[T]]) -> T:
        return await fn(self.repos)


@dataclass
class FakeTimers:
    """In-memory :class:`servicekit.ports.Timers`: ``pending[key] = (kind, due_at, payload)``."""

    pending: dict[str, tuple[str, datetime, Mapping[str, Any]]] = field(default_factory=dict)

    async def schedule(self, key: str, kind: str, due_at: datetime, payload: Mapping[str, Any] | None = None) -> bool:
        self.pending[key] = (kind, due_at, dict(payload or {}))
        return True

    async def cancel(self, key: str) -> bool:
        return self.pending.pop(key, None) is not None

    async def schedule_new(self, timers: list[tuple[str, str, datetime, Mapping[str, Any]]]) -> None:
        for key, kind, due, payload in timers:
            if key in self.pending:
                raise KeyError(f"timer {key} exists")
            self.pending[key] = (kind, due, dict(payload))

    async def cancel_many(self, keys: list[str]) -> int:
        return sum(self.pending.pop(k, None) is not None for k in keys)
