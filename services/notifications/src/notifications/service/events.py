"""Integration events at the edge: the domain's facts as the service's versioned alert
events (one table), and an event in CloudEvents structured mode for partner agencies."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
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


def structured(event: Event, data: Any) -> str:
    """``event`` in CloudEvents structured mode (JSON) with ``data`` as its data: the body
    of a webhook and of a replay-feed entry."""
    body: dict[str, Any] = {
        "specversion": event.specversion, "id": event.event_id, "source": event.source, "type": event.ce_type,
        "subject": event.subject, "time": event.time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json", "caseno": event.case_number, "correlationid": event.correlation_id,
    }
    if event.causation_id:
        body["causationid"] = event.causation_id
    body["data"] = data
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))
