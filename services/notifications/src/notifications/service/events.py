"""Integration events at the edge: the domain's facts as the service's versioned alert
events (one table), and an event in CloudEvents structured mode for partner agencies."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from contracts import Event
from contracts.events.notifications import MessageDeliveryFailedV1, WebhookDeadLetteredV1
from notifications.domain import MessageDeliveryFailed, WebhookDeadLettered
from servicekit.aggregate import DomainEvent
from servicekit.events import EventMap

SOURCE = "/one-window/notifications"
EVENTS = EventMap(SOURCE, {
    MessageDeliveryFailed: MessageDeliveryFailedV1,
    WebhookDeadLettered: WebhookDeadLetteredV1,
})


def alerts(facts: Sequence[DomainEvent], *, case_number: str, cause_id: str, now: datetime) -> list[Event]:
    """The alerts a message or a delivery recorded, caused by the event it carried (only its
    id is kept with the message, so each alert starts a correlation of its own)."""
    events = EVENTS.to_events(facts, subject=case_number, now=now, correlation_id=str(uuid.uuid4()))
    return [e.model_copy(update={"causation_id": cause_id}) for e in events]


def structured(event: Event, data: dict[str, Any]) -> str:
    """``event`` in CloudEvents structured mode (JSON, written by the CloudEvents SDK) with
    ``data`` as its data: the body of a webhook and of a replay-feed entry."""
    return event.to_structured(data)
