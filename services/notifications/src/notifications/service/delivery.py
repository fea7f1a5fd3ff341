"""Use case: deliver the messages that are due, through the channel's providers.

Each message is claimed with a conditional write (its version), so two replicas never
send the same attempt; the provider call happens outside any transaction; the outcome
(delivered, retry later, failed) is written back, with the alert event when final."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

from contracts import Event
from notifications.domain import Message, ProviderError, Rules
from notifications.ports import Outgoing, Providers, Tx, UnitOfWork
from servicekit.clock import Clock


async def dispatch_due_messages(*, uow: UnitOfWork, providers: Providers, rules: Rules, clock: Clock,
                                limit: int = 100, concurrency: int = 16,
                                rand: Callable[[], float] = random.random) -> int:
    """One pass: attempt every message due now (up to ``limit``). Returns attempts made."""
    now = clock.now()

    async def load(tx: Tx) -> list[Message]:
        return await tx.messages.due(now, limit)

    due = await uow.run(load) or []
    gate = asyncio.Semaphore(concurrency)

    async def one(message: Message) -> bool:
        async with gate:
            return await deliver(message, uow=uow, providers=providers, rules=rules, clock=clock, rand=rand)

    return sum(await asyncio.gather(*(one(m) for m in due)))


async def deliver(message: Message, *, uow: UnitOfWork, providers: Providers, rules: Rules, clock: Clock,
                  rand: Callable[[], float] = random.random) -> bool:
    """One attempt at one message. False if another replica had it, or it just expired."""
    provider = message.start_attempt(clock.now(), rules.retry, providers.names(message.channel))
    if not await save_message(uow, message) or provider is None:
        return False
    outgoing = Outgoing(message.message_id, message.case_number, message.channel, message.address, message.title,
                        message.text)
    try:
        ref = await providers.send(provider, outgoing)
    except ProviderError as exc:
        message.attempt_failed(clock.now(), str(exc), permanent=exc.permanent, policy=rules.retry, rand=rand())
    else:
        message.delivered(clock.now(), ref)
    await save_message(uow, message)
    return True


async def save_message(uow: UnitOfWork, message: Message) -> bool:
    """Write the message if nobody else changed it since it was read, with its events."""
    events: list[Event] = message.pull_events()

    async def work(tx: Tx) -> bool:
        saved = await tx.messages.save(message)
        if saved:
            tx.emit(events)
        return saved

    saved = bool(await uow.run(work))
    if saved:
        message.version += 1
    return saved
