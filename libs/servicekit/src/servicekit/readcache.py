"""Rarely written reference data read across transactions: :class:`ReadCache`.

A consumer that reads the same few documents for every fetch (subscriptions, agencies,
recipients' preferences) keeps what it read for at most ``ttl_seconds``. The process's own
writes call :meth:`ReadCache.bump` after their commit, which drops everything at once; a read
that began before a bump is not stored (``generation``), so a value read before a write
never outlives it in this process. Other processes' writes are seen within ``ttl_seconds``:
the price of not reading every time, to be chosen per use (``0`` keeps nothing).

Store only what a transaction read from committed data (not its own uncommitted writes), and
hand out copies of mutable values."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Mapping
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class ReadCache(Generic[K, V]):
    """Values by key for at most ``ttl_seconds`` each (``now``: a monotonic clock), at most
    ``max_entries`` (then the oldest stored go first)."""

    def __init__(self, ttl_seconds: float, *, max_entries: int = 10_000,
                 now: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.max_entries, self.now = ttl_seconds, max_entries, now
        self.generation = 0
        self._values: dict[K, tuple[float, V]] = {}
        self.hits = self.misses = 0

    def get(self, key: K) -> V | None:
        """The value stored for ``key`` if it is still fresh, else None."""
        found = self._values.get(key)
        if found is not None and found[0] > self.now():
            self.hits += 1
            return found[1]
        if found is not None:
            del self._values[key]
        self.misses += 1
        return None

    def put(self, key: K, value: V, generation: int) -> None:
        """Keep ``value``, read when :attr:`generation` was ``generation``: unless a bump came since."""
        self.put_many({key: value}, generation)

    def put_many(self, values: Mapping[K, V], generation: int) -> None:
        if generation != self.generation or self.ttl <= 0:
            return
        until = self.now() + self.ttl
        for key, value in values.items():
            self._values.pop(key, None)  # re-inserted last: the dict keeps the order of storing
            self._values[key] = (until, value)
        while len(self._values) > self.max_entries:
            del self._values[next(iter(self._values))]

    def drop(self, key: K) -> None:
        """Forget ``key`` (this process is about to write it)."""
        self._values.pop(key, None)

    def bump(self) -> None:
        """This process wrote: forget everything, and store no read that began before now."""
        self.generation += 1
        self._values.clear()


__all__ = ["ReadCache"]
