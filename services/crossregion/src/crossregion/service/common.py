"""Shared by the use cases: the event map, emitting a case's facts, queueing an exchange."""

from __future__ import annotations

import uuid
from datetime import datetime

from contracts import Event
from contracts.events import crossregion as ev
from crossregion.domain import CrossCase, Exchange, Outgoing
from crossregion.domain import events as facts
from crossregion.domain.exchange import Body
from crossregion.ports import Repositories
from servicekit.events import EventMap
from servicekit.ports import Tx

CONSUMER = "crossregion"
EVENTS = EventMap("/one-window/crossregion", {
    facts.CaseForwarded: ev.CaseForwardedV1,
    facts.CrossCaseOpened: ev.CrossCaseOpenedV1,
    facts.CrossCaseProgressed: ev.CrossCaseProgressedV1,
    facts.CaseCompleted: ev.CrossRegionCaseCompletedV1,
})


def events_of(case: CrossCase, now: datetime, cause: Event | None = None) -> list[Event]:
    return EVENTS.to_events(case.pull_events(), subject=case.reference, now=now, correlation_id=case.reference,
                            cause=cause)


async def save(tx: Tx[Repositories], case: CrossCase, now: datetime, *, new: bool = False,
               cause: Event | None = None) -> None:
    await (tx.repos.cases.add(case) if new else tx.repos.cases.save(case))
    tx.emit(events_of(case, now, cause))


async def queue(tx: Tx[Repositories], *, here: str, region: str, body: Body, now: datetime) -> Outgoing:
    """An exchange to ``region``, written in this transaction; the delivery worker sends it."""
    exchange = Exchange(exchange_id=f"{here}.{uuid.uuid4().hex}", sender=here, sent_at=now, body=body)
    item = Outgoing(exchange_id=exchange.exchange_id, region=region, reference=body.reference, kind=body.kind,
                    body=exchange.to_json(), created_at=now, due_at=now)
    await tx.repos.outgoing.add(item)
    return item
