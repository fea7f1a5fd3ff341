"""Use case: deliver the messages that are due, through the channel's providers.

A pass claims its batch of due messages at once (a claim token), so two replicas never
make the same attempt; the provider call happens outside any transaction; the outcome
(delivered, retry later, failed) is written back conditionally on the claim, with the
alert event (in a transaction, through the outbox) when it is final and undelivered."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Callable
from datetime import timedelta

from contracts import Event
from notifications.domain import Message, ProviderError, Rules
from notifications.ports import Outgoing, Providers, Tx, UnitOfWork
from servicekit.clock import Clock


async def dispatch_due_messages(*, uow: UnitOfWork, providers: Providers, rules: Rules, clock: Clock,
                                limit: int = 100, concurrency: int = 16,
                                rand: Callable[[], float] = random.random) -> int:
    """One pass: claim the messages due now (up to ``limit``) and attempt each. Returns
    the attempts made."""
    now, token = clock.now(), uuid.uuid4().hex
    until = now + timedelta(seconds=rules.retry.claim_seconds)

    async def claim(tx: Tx) -> list[Message]:
        return await tx.messages.claim_due(now, until, token, limit)

    claimed = await uow.read(claim)
    gate = asyncio.Semaphore(concurrency)

    async def one(message: Message) -> bool:
        async with gate:
            return await deliver(message, token=token, uow=uow, providers=providers, rules=rules, clock=clock,
                                 rand=rand)

    return sum(await asyncio.gather(*(one(m) for m in claimed)))


async def deliver(message: Message, *, token: str, uow: UnitOfWork, providers: Providers, rules: Rules,
                  clock: Clock, rand: Callable[[], float] = random.random) -> bool:
    """One attempt at one message claimed by ``token``. False if it just expired (or has
    no provider) instead."""
    provider = message.start_attempt(clock.now(), rules.retry, providers.names(message.channel))
    if provider is None:
        await save_message(uow, message, token)
        return False
    outgoing = Outgoing(message.message_id, message.case_number, message.channel, message.address, message.title,
                        message.text)
    try:
        ref = await providers.send(provider, outgoing)
    except ProviderError as exc:
        message.attempt_failed(clock.now(), str(exc), permanent=exc.permanent, policy=rules.retry, rand=rand())
    else:
        message.delivered(clock.now(), ref)
    await save_message(uow, message, token)
    return True


async def save_message(uow: UnitOfWork, message: Message, claim: str | None = None) -> bool:
    """Write the message if nobody else changed or re-claimed it; with its alert events
    (then in a transaction, for the outbox)."""
    events: list[Event] = message.pull_events()

    async def work(tx: Tx) -> bool:
        saved = await tx.messages.save(message, claim)
        if saved and events:
            tx.emit(events)
        return saved

    saved = bool(await (uow.run(work) if events else uow.read(work)))
    if saved:
        message.version += 1
    return saved
