"""Partner-agency subscriptions: what an agency may receive, attribute filters, personal
data masking, the signed-webhook delivery lifecycle and the replay feed's cursor.

Boundaries: an event that names a ``department`` is private to the agency of that
department (an agency's departments default to ``{agency_id}``; an operator may widen
them); every other event is public to subscribed agencies. Personal data (ID numbers,
phone numbers) is masked in payloads unless an operator entitled the agency to it.

Webhook delivery (Standard Webhooks): at least once, one ``webhook-id`` per (subscription,
event) kept over the retries so receivers can deduplicate::

    pending ──2xx──▶ delivered
       │ └─ 429 / 5xx / other / no answer: retry per schedule (Retry-After honoured)
       ├── 410 Gone ──▶ cancelled (and the subscription is disabled)
       └── last retry failed ──▶ dead_lettered (records WebhookDeadLettered: an alert)

A subscription without a webhook URL is pull-only: its deliveries are ``feed_only``. So are
the events that arrive while a subscription is disabled (by the agency, or after a 410):
nothing is pushed, but the feed keeps them, and the agency catches up from its cursor once
it enables the subscription again.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from contracts import TOPICS, Event
from contracts.events.ratings import RatingInvitedV1
from notifications.domain.errors import InvalidRequest, InvalidTransition
from servicekit.aggregate import Aggregate, DomainEvent
from servicekit.masking import mask_personal_data

_IDS = uuid.UUID("0c8a2f0e-3a55-4b8e-8f6e-1d2f3c4b5a60")
SERVICE = "notifications"
# Events that carry a capability (a single-use rating link): for the person only, never an agency.
CAPABILITIES: frozenset[str] = frozenset({RatingInvitedV1.ce_type})
# Event types an agency may subscribe to: those this service consumes, less the capabilities.
SUBSCRIBABLE: frozenset[str] = frozenset(t.event.ce_type for t in TOPICS if SERVICE in t.consumers) - CAPABILITIES
_PERSONAL_KEY = re.compile(r"phone|mobile|id_?number|id_?no$|id_?card|identity|身份证|手机", re.IGNORECASE)
_FILTER_KEY = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass
class Agency:
    """An operator's record of a partner agency: the departments whose private events it
    may receive, and whether it is entitled to personal data."""

    agency_id: str
    departments: frozenset[str] = frozenset()
    personal_data: bool = False
    updated_at: datetime | None = None

    @classmethod
    def default(cls, agency_id: str) -> Agency:
        return cls(agency_id, frozenset({agency_id}))

    def may_receive(self, attributes: Mapping[str, Any]) -> bool:
        department = attributes.get("department")
        return department is None or department in self.departments


def event_attributes(event: Event) -> dict[str, Any]:
    """What filters can match: the CloudEvents attributes and the event's top-level scalar data."""
    attrs: dict[str, Any] = {k: v for k, v in event.data().items() if isinstance(v, str | int | float | bool)}
    attrs.update({"type": event.ce_type, "source": event.source, "subject": event.subject,
                  "case_number": event.case_number})
    return attrs


def redact(value: Any, *, entitled: bool, key: str = "") -> Any:
    """Mask ID and phone numbers anywhere in ``value`` unless ``entitled``."""
    if entitled:
        return value
    if isinstance(value, Mapping):
        return {k: redact(v, entitled=False, key=str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v, entitled=False, key=key) for v in value]
    if isinstance(value, str):
        masked = mask_personal_data(value)
        if masked == value and value and _PERSONAL_KEY.search(key):
            return "*" * len(value)  # a personal field in a format the patterns do not know
        return masked
    if isinstance(value, int) and _PERSONAL_KEY.search(key):
        return "*" * len(str(value))
    return value


class SubscriptionStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"


@dataclass
class Subscription(Aggregate):
    subscription_id: str
    agency_id: str
    event_types: tuple[str, ...]
    filters: dict[str, tuple[str, ...]]
    webhook_url: str | None
    secret: str | None
    created_at: datetime
    status: SubscriptionStatus = SubscriptionStatus.ACTIVE
    disabled_reason: str | None = None
    disabled_at: datetime | None = None

    @classmethod
    def create(cls, *, subscription_id: str, agency_id: str, event_types: list[str],
               filters: Mapping[str, str | list[str]], webhook_url: str | None, secret: str | None,
               now: datetime, check_url: Callable[[str], str | None]) -> Subscription:
        """``check_url``: why a webhook URL is refused (the outbound policy), or None."""
        errors: list[dict[str, str]] = []
        if not event_types:
            errors.append({"field": "event_types", "message": "name at least one event type"})
        for i, t in enumerate(event_types):
            if t not in SUBSCRIBABLE:
                errors.append({"field": f"event_types.{i}", "message": f"{t!r} is not a subscribable event type"})
        norm: dict[str, tuple[str, ...]] = {}
        for k, v in filters.items():
            values = tuple(str(x) for x in (v if isinstance(v, list) else [v]))
            if not _FILTER_KEY.match(k) or not values:
                errors.append({"field": f"filters.{k}", "message": "a filter is attribute -> value or [values]"})
            norm[k] = values
        if webhook_url is not None:
            if (refused := check_url(webhook_url)) is not None:
                errors.append({"field": "webhook_url", "message": refused})
            if not secret:
                errors.append({"field": "secret", "message": "a webhook needs a signing secret"})
        if errors:
            raise InvalidRequest("invalid subscription", errors)
        return cls(subscription_id, agency_id, tuple(dict.fromkeys(event_types)), norm, webhook_url,
                   secret if webhook_url else None, now)

    @property
    def active(self) -> bool:
        return self.status is SubscriptionStatus.ACTIVE

    def matches(self, event_type: str, attributes: Mapping[str, Any]) -> bool:
        """The event is one this subscription records (active or disabled: see the module doc)."""
        return event_type in self.event_types and all(
            str(attributes.get(k)) in values for k, values in self.filters.items())

    def disable(self, now: datetime, reason: str) -> bool:
        """False if it is disabled already (it keeps when and why it was first)."""
        if not self.active:
            return False
        self.status, self.disabled_reason, self.disabled_at = SubscriptionStatus.DISABLED, reason, now
        return True

    def enable(self) -> bool:
        """False if it is active already."""
        if self.active:
            return False
        self.status, self.disabled_reason, self.disabled_at = SubscriptionStatus.ACTIVE, None, None
        return True


@dataclass(frozen=True)
class WebhookPolicy:
    """Retry timing. Defaults follow the Standard Webhooks suggestion (immediately, then
    5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: about 28 h in all)."""

    schedule_seconds: tuple[float, ...] = (5, 300, 1800, 7200, 18000, 36000, 36000)
    jitter: float = 0.1  # each wait varies by up to ±10 %
    max_retry_after_seconds: float = 86400
    claim_seconds: float = 60
    timeout_seconds: float = 10

    @property
    def max_attempts(self) -> int:
        return len(self.schedule_seconds) + 1

    def wait_after(self, attempt: int, retry_after: float | None, rand: float) -> timedelta | None:
        """Wait after failed attempt ``attempt``, or None when it was the last one. A
        Retry-After (seconds) asked by the receiver is honoured, up to the maximum."""
        if attempt >= self.max_attempts:
            return None
        wait = self.schedule_seconds[attempt - 1] * (1 + self.jitter * (2 * rand - 1))
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_retry_after_seconds))
        return timedelta(seconds=max(wait, 0.0))


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD_LETTERED = "dead_lettered"
    CANCELLED = "cancelled"
    FEED_ONLY = "feed_only"


class Outcome(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    GONE = "gone"
    DEAD_LETTERED = "dead_lettered"


@dataclass(frozen=True)
class AttemptRecord:
    at: datetime
    status_code: int | None
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class WebhookDeadLettered(DomainEvent):
    """A webhook was given up after its last retry."""

    webhook_id: str
    subscription_id: str
    agency_id: str
    event_type: str
    source_event_id: str
    attempts: int
    last_status_code: int | None
    last_error: str | None


def webhook_id_for(subscription_id: str, event_id: str) -> str:
    return "msg_" + uuid.uuid5(_IDS, f"{subscription_id}|{event_id}").hex


@dataclass
class Delivery(Aggregate):
    """One event for one subscription: a replay-feed entry, and a webhook to push if the
    subscription has a URL."""

    delivery_id: str  # the webhook-id
    subscription_id: str
    agency_id: str
    event_id: str
    event_type: str
    case_number: str
    payload: str
    created_at: datetime
    status: DeliveryStatus
    due_at: datetime | None
    attempts: int = 0
    last_status_code: int | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None
    history: list[AttemptRecord] = field(default_factory=list)
    last_failure_at: datetime | None = None  # the last failed attempt (kept after a later success)
    last_failure_reason: str | None = None

    @classmethod
    def fan_out(cls, subscription: Subscription, event: Event, payload: str, now: datetime) -> Delivery:
        push = subscription.webhook_url is not None and subscription.active
        return cls(webhook_id_for(subscription.subscription_id, event.event_id), subscription.subscription_id,
                   subscription.agency_id, event.event_id, event.ce_type, event.case_number, payload, now,
                   DeliveryStatus.PENDING if push else DeliveryStatus.FEED_ONLY, now if push else None)

    def is_due(self, now: datetime) -> bool:
        return self.status is DeliveryStatus.PENDING and self.due_at is not None and self.due_at <= now

    def start_attempt(self, now: datetime, policy: WebhookPolicy) -> None:
        if self.status is not DeliveryStatus.PENDING:
            raise InvalidTransition(f"delivery {self.delivery_id} is {self.status}")
        self.attempts += 1
        self.due_at = now + timedelta(seconds=policy.claim_seconds)

    def succeeded(self, now: datetime, status_code: int) -> Outcome:
        self._record(now, status_code, None)
        self.status, self.delivered_at, self.due_at = DeliveryStatus.DELIVERED, now, None
        return Outcome.DELIVERED

    def failed(self, now: datetime, *, status_code: int | None, error: str, retry_after: float | None,
               policy: WebhookPolicy, rand: float) -> Outcome:
        self._record(now, status_code, error)
        self.last_failure_at, self.last_failure_reason = now, self.last_error
        if status_code == 410:
            self.cancel(now, "the receiver answered 410 Gone: subscription disabled")
            return Outcome.GONE
        wait = policy.wait_after(self.attempts, retry_after, rand)
        if wait is not None:
            self.due_at = now + wait
            return Outcome.RETRY
        self.status, self.due_at = DeliveryStatus.DEAD_LETTERED, None
        self.record(WebhookDeadLettered(
            webhook_id=self.delivery_id, subscription_id=self.subscription_id, agency_id=self.agency_id,
            event_type=self.event_type, source_event_id=self.event_id, attempts=self.attempts,
            last_status_code=status_code, last_error=self.last_error))
        return Outcome.DEAD_LETTERED

    def cancel(self, now: datetime, reason: str) -> None:
        if self.status is DeliveryStatus.PENDING:
            self.status, self.due_at, self.last_error = DeliveryStatus.CANCELLED, None, reason

    def _record(self, now: datetime, status_code: int | None, error: str | None) -> None:
        self.last_status_code, self.last_error = status_code, (error or None) and error[:500]
        self.history.append(AttemptRecord(now, status_code, self.last_error))


@dataclass(frozen=True)
class DeliveryHealth:
    """How a subscription's deliveries are going (the operators' view): counts over the last
    ``window`` and the last success and failure."""

    delivered: int
    failed: int  # deliveries with a failed attempt in the window (retried, given up, or later delivered)
    pending: int
    last_success_at: datetime | None
    last_failure_at: datetime | None
    last_failure_reason: str | None


@dataclass(frozen=True)
class SubscriptionHealth:
    subscription: Subscription
    health: DeliveryHealth

    @property
    def enabled(self) -> bool:
        return self.subscription.active


@dataclass(frozen=True)
class FeedCursor:
    """Position in a subscription's replay feed: after (created_at, delivery_id)."""

    created_at: datetime
    delivery_id: str

    def encode(self) -> str:
        raw = f"{self.created_at.astimezone(UTC).isoformat()}|{self.delivery_id}"
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> FeedCursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
            at, delivery_id = raw.split("|", 1)
            return cls(datetime.fromisoformat(at), delivery_id)
        except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
            raise InvalidRequest("invalid cursor", [{"field": "after", "message": "not a cursor of this feed"}]) from exc
