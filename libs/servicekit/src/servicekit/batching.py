"""Group commit: requests that arrive while a transaction runs are handled together in the next
one. On a database slow per operation (SecantusDB, ``docs/substrate.md``) one transaction of
16 ratings costs little more than one of 1, so throughput grows with concurrency while a lone
request waits for nothing (a batch starts as soon as the previous one ends).

    batcher = Batcher(run_batch, max_size=64)         # run_batch(items) -> one result per item
    result = await batcher.submit(item)               # the item's result, or its exception raised

``run_batch`` returns, per item in order, its result or the exception to raise to its caller
(a domain error of one item does not fail the others); if ``run_batch`` itself raises, every
caller of that batch gets the exception. Batches run in a context of their own, not the
first caller's: a request's database deadline (``pymongo.timeout``) or trace does not leak
into the batches after it; the unit of work bounds each transaction itself.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

I = TypeVar("I")  # noqa: E741
O = TypeVar("O")  # noqa: E741


class Batcher(Generic[I, O]):
    def __init__(self, run_batch: Callable[[list[I]], Awaitable[Sequence[O | BaseException]]], *,
                 max_size: int = 64) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self.run_batch, self.max_size = run_batch, max_size
        self._pending: list[tuple[I, asyncio.Future[O]]] = []
        self._running: asyncio.Task[None] | None = None
        self.batches = 0  # how many batches ran (for tests and metrics)

    async def submit(self, item: I) -> O:
        future: asyncio.Future[O] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._running is None or self._running.done():
            # a context of its own: not the first caller's (its request's database deadline, its trace)
            self._running = asyncio.create_task(self._drain(), context=contextvars.Context())
        return await future

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[: self.max_size], self._pending[self.max_size:]
            self.batches += 1
            try:
                results = await self.run_batch([item for item, _ in batch])
                if len(results) != len(batch):
                    raise RuntimeError(f"run_batch answered {len(results)} results for {len(batch)} items")
            except BaseException as exc:  # every caller of this batch hears of it
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue  # its caller went away
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)


__all__ = ["Batcher"]
