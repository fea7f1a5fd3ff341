"""The shape of a dispatcher pass, shared by messages and webhooks: claim what is due
(one claim token per pass, so two replicas never make the same attempt), then attempt each
claimed item outside any transaction, at most ``concurrency`` at once; one case's items one
after another, in the order their events happened."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from notifications.ports import Repositories
from servicekit.clock import Clock
from servicekit.ports import UnitOfWork

T = TypeVar("T")


class Dispatcher(Generic[T]):
    """``run_once``: one pass (a kit worker calls it). Subclasses say how to ``claim`` and
    how to ``attempt`` one item; a claim not settled within ``claim_seconds`` (a crash) is
    due again for a later pass."""

    def __init__(self, *, uow: UnitOfWork[Repositories], clock: Clock, claim_seconds: float, batch: int,
                 concurrency: int, rand: Callable[[], float] = random.random) -> None:
        self.uow, self.clock, self.claim_seconds = uow, clock, claim_seconds
        self.batch, self.concurrency, self.rand = batch, concurrency, rand

    async def run_once(self) -> int:
        """Claim what is due now (up to ``batch``) and attempt each: the attempts made."""
        now, token = self.clock.now(), uuid.uuid4().hex
        claimed = await self.claim(now, now + timedelta(seconds=self.claim_seconds), token)
        return await self.attempt_all(claimed, token)

    async def attempt_all(self, claimed: Sequence[T], token: str) -> int:
        """Attempt items claimed by ``token``, at most ``concurrency`` at once, one case's in turn."""
        gate = asyncio.Semaphore(self.concurrency)
        cases: dict[object, list[T]] = {}
        for i, item in sorted(enumerate(claimed), key=lambda x: self.order(x[1]) or ((), x[0])):
            key = self.order(item)
            cases.setdefault(key[0] if key else i, []).append(item)

        async def in_turn(items: list[T]) -> int:  # one case's items one after another, in order
            done = 0
            for item in items:
                async with gate:
                    done += await self.attempt(item, token)
            return done

        attempted = sum(await asyncio.gather(*(in_turn(items) for items in cases.values())))
        await self.settle(token)
        return attempted

    async def settle(self, token: str) -> None:
        """After a pass's attempts: record what they left to record together (default: nothing)."""

    def order(self, item: T) -> tuple[str, tuple[datetime, int]] | None:
        """Items with the same first element are attempted one after another, in the order of
        the second; None (the default): each on its own."""
        return None

    async def claim(self, now: datetime, until: datetime, token: str) -> Sequence[T]:
        raise NotImplementedError

    async def attempt(self, item: T, token: str) -> bool:
        """One attempt at an item claimed by ``token``: False if it was settled without one."""
        raise NotImplementedError
