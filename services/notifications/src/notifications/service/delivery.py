"""Use case: deliver the messages that are due, through the channel's providers.

A pass claims its batch of due messages at once (a claim token), so two replicas never
make the same attempt; the provider call happens outside any transaction; the outcome
(delivered, retry later, failed) is written back conditionally on the claim, with the
alert event (in a transaction, through the outbox) when it is final and undelivered."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime

from notifications.domain import Claim, Message, ProviderError, Rules
from notifications.ports import Outgoing, Providers, Repositories
from notifications.service.dispatch import Dispatcher
from notifications.service.events import alerts
from servicekit.clock import Clock
from servicekit.ports import Tx, UnitOfWork


class MessageDispatch(Dispatcher[Message]):
    """One pass of the message dispatcher: the due messages through their channel's providers."""

    def __init__(self, *, uow: UnitOfWork[Repositories], rules: Rules, clock: Clock, providers: Providers,
                 batch: int = 100, concurrency: int = 16, rand: Callable[[], float] = random.random) -> None:
        super().__init__(uow=uow, clock=clock, claim_seconds=rules.retry.claim_seconds, batch=batch,
                         concurrency=concurrency, rand=rand)
        self.rules, self.providers = rules, providers
        self._outcomes: list[Message] = []  # this pass's outcomes without an alert, recorded together
        self._handed: list[tuple[list[Message], str]] = []  # accepted already claimed (take)

    def take(self, messages: list[Message], token: str) -> None:
        """Messages the consumer accepted already claimed by ``token`` (in its transaction): they
        are attempted by the next pass without a claim of their own. Should this process stop
        first, their claim runs out and a later pass takes them."""
        self._handed.append((messages, token))

    async def run_once(self) -> int:
        """What is due (claimed by this pass: retries, the end of quiet hours, released holds),
        then what the consumer handed over."""
        handed, self._handed = self._handed, []
        done = await super().run_once()
        for messages, token in handed:
            done += await self.attempt_all(messages, token)
        return done

    def order(self, item: Message) -> tuple[str, tuple[datetime, int]]:
        """A case's messages one after another: accepted first, then by the case's sequence."""
        return item.case_number, (item.created_at, item.case_seq or 0)

    async def claim(self, now: datetime, until: datetime, token: str) -> list[Message]:
        return await self.uow.autocommit(lambda repos: repos.messages.claim_due(now, until, token, self.batch))

    async def attempt(self, message: Message, token: str) -> bool:
        """One attempt at one message claimed by ``token``. False if it just expired (or has
        no provider) instead."""
        provider = message.start_attempt(self.clock.now(), self.rules.retry, self.providers.names(message.channel))
        if provider is None:
            await self._save(message, token)
            return False
        outgoing = Outgoing(message.message_id, message.case_number, message.channel, message.address, message.title,
                            message.text)
        try:
            ref = await self.providers.send(provider, outgoing)
        except ProviderError as exc:
            message.attempt_failed(self.clock.now(), str(exc), permanent=exc.permanent, policy=self.rules.retry,
                                   rand=self.rand())
        else:
            message.delivered(self.clock.now(), ref)
        await self._save(message, token)
        return True

    async def settle(self, token: str) -> None:
        """The pass's outcomes without an alert in one transaction (one durable commit), each
        written only if the pass's claim still holds it."""
        outcomes, self._outcomes = self._outcomes, []
        if outcomes:
            await self.uow.run(lambda tx: tx.repos.messages.save_claimed_many(outcomes, token))

    async def _save(self, message: Message, token: str) -> Claim | None:
        """The outcome, if the claim still holds: with its alert at once (in a transaction),
        else with the pass's others (:meth:`settle`)."""
        facts = message.pull_events()
        if not facts:
            self._outcomes.append(message)
            return None
        events = alerts(facts, case_number=message.case_number, cause_id=message.source_event_id, now=self.clock.now())

        async def work(tx: Tx[Repositories]) -> Claim:
            claim = await tx.repos.messages.save_claimed(message, token)
            if claim is Claim.KEPT:
                tx.emit(events)
            return claim

        return await self.uow.run(work)
