"""Use case: deliver the outbound exchanges that are due (a kit worker's pass), signed afresh
at each attempt, retried with backoff until the partner takes them; the backlog for operators."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import timedelta

from crossregion.domain import Backlog, Backoff, Outgoing
from crossregion.ports import Repositories, Sender, Signer
from servicekit.clock import Clock
from servicekit.ports import UnitOfWork


class Delivery:
    def __init__(self, *, uow: UnitOfWork[Repositories], clock: Clock, signer: Signer, sender: Sender, here: str,
                 backoff: Backoff, expires_in: timedelta, claim: timedelta = timedelta(seconds=60), batch: int = 50,
                 rand: Callable[[], float] = random.random) -> None:
        self.uow, self.clock, self.signer, self.sender, self.here = uow, clock, signer, sender, here
        self.backoff, self.expires_in, self.claim, self.batch, self.rand = backoff, expires_in, claim, batch, rand

    async def run_once(self) -> int:
        """Claim what is due (oldest first) and send it, in order per region: after a failure the
        region's later exchanges wait for the same retry. Returns the attempts made."""
        now, token = self.clock.now(), uuid.uuid4().hex
        claimed = await self.uow.autocommit(lambda repos: repos.outgoing.claim_due(now, now + self.claim, token,
                                                                                     self.batch))
        regions = {r.division_code: r for r in await self.uow.read(lambda repos: repos.regions.list())}
        failed: dict[str, Outgoing] = {}
        attempts = 0
        for item in claimed:
            region = regions.get(item.region)
            if item.region in failed:
                item.postponed(now, failed[item.region].due_at)
            elif region is None:
                item.failed(self.clock.now(), "not a partner region (any more)", self.backoff, self.rand())
                failed[item.region] = item
            else:
                attempts += 1
                body = item.body.encode()
                headers = self.signer.sign(url=region.endpoint, body=body, now=self.clock.now(),
                                           expires_in=self.expires_in, key_id=region.our_key_id or None)
                error = await self.sender.post(region.endpoint, body, headers)
                if error is None:
                    item.delivered(self.clock.now())
                else:
                    item.failed(self.clock.now(), error, self.backoff, self.rand())
                    failed[item.region] = item
            await self.uow.autocommit(lambda repos, it=item: repos.outgoing.save_claimed(it, token))  # type: ignore[misc]
        return attempts

    async def forget_delivered(self, retention: timedelta) -> int:
        """Housekeeping: exchanges delivered longer ago than ``retention`` are deleted."""
        before = self.clock.now() - retention
        return await self.uow.autocommit(lambda repos: repos.outgoing.forget_delivered(before))

    async def backlog(self) -> Backlog:
        return await self.uow.read(lambda repos: repos.outgoing.backlog())
