"""Ports of the notification use cases; adapters live in repository.py (MongoDB),
providers.py (SMS / push / WeChat / email) and webhooks.py (signed webhooks)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from contracts import Event
from notifications.domain import Agency, CaseFile, Contact, Delivery, FeedCursor, Message, Subscription

T = TypeVar("T")


class MessageRepository(Protocol):
    async def add_many(self, messages: list[Message]) -> None: ...
    async def get(self, message_id: str) -> Message | None: ...
    async def save(self, message: Message, claim: str | None = None) -> bool:
        """Write ``message`` if its stored version is still ``message.version`` (stored as +1)
        and, given ``claim``, it is still claimed by that token."""
        ...
    async def for_case(self, case_number: str) -> list[Message]: ...
    async def for_recipients(self, recipient_ids: list[str], limit: int) -> list[Message]: ...
    async def claim_due(self, now: datetime, until: datetime, token: str, limit: int) -> list[Message]:
        """Claim the messages due at ``now`` for this pass (until ``until``), by ``token``."""
        ...


class ContactRepository(Protocol):
    async def get(self, recipient_id: str) -> Contact | None: ...
    async def save(self, contact: Contact) -> None: ...
    async def staff(self, role: str, department: str | None) -> list[Contact]: ...


class CaseRepository(Protocol):
    async def get(self, case_number: str) -> CaseFile | None: ...
    async def save(self, case: CaseFile) -> None: ...


class SubscriptionRepository(Protocol):
    async def add(self, subscription: Subscription) -> None: ...
    async def get(self, subscription_id: str) -> Subscription | None: ...
    async def get_many(self, subscription_ids: Iterable[str]) -> dict[str, Subscription]: ...
    async def save(self, subscription: Subscription) -> None: ...
    async def for_agency(self, agency_id: str | None) -> list[Subscription]: ...
    async def matching(self, event_type: str) -> list[Subscription]: ...


class AgencyRepository(Protocol):
    async def get_many(self, agency_ids: Iterable[str]) -> dict[str, Agency]: ...
    async def save(self, agency: Agency) -> None: ...


class DeliveryRepository(Protocol):
    async def add_many(self, deliveries: list[Delivery]) -> None: ...
    async def save(self, delivery: Delivery, claim: str | None = None) -> bool: ...
    async def claim_due(self, now: datetime, until: datetime, token: str, limit: int) -> list[Delivery]: ...
    async def feed(self, subscription_id: str, after: FeedCursor | None, until: datetime,
                   limit: int) -> list[Delivery]: ...
    async def for_subscription(self, subscription_id: str, limit: int) -> list[Delivery]: ...
    async def cancel_pending(self, subscription_id: str, reason: str) -> int: ...


class Tx(Protocol):
    messages: MessageRepository
    contacts: ContactRepository
    cases: CaseRepository
    subscriptions: SubscriptionRepository
    agencies: AgencyRepository
    deliveries: DeliveryRepository

    def emit(self, events: list[Event]) -> None: ...
    async def mark_processed(self, consumer: str, event_id: str) -> None: ...


class UnitOfWork(Protocol):
    async def run(self, fn: Callable[[Any], Awaitable[T]]) -> T | None:
        """In one transaction (events go to the outbox in it)."""
        ...

    async def read(self, fn: Callable[[Any], Awaitable[T]]) -> T:
        """Without a transaction: reads, and single-document writes that emit nothing."""
        ...


@dataclass(frozen=True)
class Outgoing:
    """What a provider adapter sends: one message on one channel to one address."""

    message_id: str
    case_number: str
    channel: str
    address: str
    title: str
    text: str


class Providers(Protocol):
    """The provider adapters, by channel (in failover order) and by name."""

    def names(self, channel: str) -> list[str]: ...
    async def send(self, provider: str, message: Outgoing) -> str | None:
        """Hand the message over; returns the provider's reference. Raises ProviderError."""
        ...


@dataclass(frozen=True)
class WebhookResponse:
    status_code: int | None  # None: no HTTP answer (connection error, timeout)
    retry_after: float | None = None  # seconds, from a Retry-After header
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class WebhookSender(Protocol):
    async def post(self, url: str, secret: str, webhook_id: str, payload: str, now: datetime) -> WebhookResponse:
        """POST ``payload`` signed per Standard Webhooks (webhook-id/-timestamp/-signature)."""
        ...
