"""Use cases: an event in → the messages it causes, recorded once per event."""

from __future__ import annotations

from datetime import datetime

from contracts import Event
from notifications.domain import Message, message_for
from notifications.ports import Tx, UnitOfWork

CONSUMER = "notifications"


async def handle_event(event: Event, *, uow: UnitOfWork, now: datetime, trace_id: str | None) -> Message | None:
    """Record the message for ``event``; a redelivered event has no second effect."""
    message = message_for(event, now, trace_id)

    async def work(tx: Tx) -> Message | None:
        await tx.mark_processed(CONSUMER, event.event_id)
        if message is not None:
            await tx.messages.add(message)
        return message

    return await uow.run(work)


async def messages_for_case(*, uow: UnitOfWork, case_number: str) -> list[Message]:
    async def work(tx: Tx) -> list[Message]:
        return await tx.messages.for_case(case_number)

    return await uow.run(work) or []
