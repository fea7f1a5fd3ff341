"""Ports of the notification use cases; adapters live in repository.py (MongoDB),
providers.py (SMS / push / WeChat / email) and webhooks.py (signed webhooks).

The repositories are declared once (:class:`Repositories`); use cases get them through the
kit's typed unit of work, ``servicekit.ports.UnitOfWork[Repositories]``. Versioned
aggregates (messages, deliveries, subscriptions) are saved only if their stored version is
the one they were loaded at (it is stored bumped), else the repository raises
``ConcurrentUpdate``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from notifications.domain import (
    Agency,
    CaseFile,
    Claim,
    Contact,
    Delivery,
    DeliveryHealth,
    FeedCursor,
    Message,
    Subscription,
)


@dataclass(frozen=True)
class Claimed:
    """Messages claimed as they are inserted: ``ids`` by ``token`` until ``until``."""

    token: str
    until: datetime
    ids: frozenset[str]


class MessageRepository(Protocol):
    async def add_many(self, messages: list[Message], claimed: Claimed | None = None) -> None:
        """Insert them; those named in ``claimed`` already claimed by its token until its time."""
        ...
    async def get(self, message_id: str) -> Message | None: ...
    async def save_claimed(self, message: Message, claim: str) -> Claim:
        """Write ``message`` (its claim released) if ``claim`` still holds it: LOST if not;
        ConcurrentUpdate if it does but the stored version moved."""
        ...
    async def save_claimed_many(self, messages: list[Message], claim: str) -> int:
        """Write each message that ``claim`` still holds at its version (claim released); the
        others are left as they are. How many were written."""
        ...
    async def for_case(self, case_number: str) -> list[Message]: ...
    async def for_recipients(self, recipient_ids: list[str], limit: int) -> list[Message]: ...
    async def claim_due(self, now: datetime, until: datetime, token: str, limit: int) -> list[Message]:
        """Claim the messages due at ``now`` for this pass (until ``until``), by ``token``."""
        ...


class ContactRepository(Protocol):
    async def get(self, recipient_id: str) -> Contact | None: ...
    async def get_many(self, recipient_ids: Iterable[str]) -> dict[str, Contact]: ...
    async def save(self, contact: Contact) -> None: ...
    async def staff(self, role: str, department: str | None) -> list[Contact]: ...


class CaseRepository(Protocol):
    async def get(self, case_number: str) -> CaseFile | None: ...
    async def get_many(self, case_numbers: Iterable[str]) -> dict[str, CaseFile]: ...
    async def save(self, case: CaseFile) -> None: ...
    async def save_many(self, cases: list[CaseFile]) -> None: ...
    async def held(self, now: datetime, limit: int) -> list[str]:
        """Case numbers with a parked event whose hold ran out by ``now``."""
        ...


class SubscriptionRepository(Protocol):
    async def add(self, subscription: Subscription) -> None: ...
    async def get(self, subscription_id: str) -> Subscription | None: ...
    async def get_many(self, subscription_ids: Iterable[str]) -> dict[str, Subscription]: ...
    async def save(self, subscription: Subscription) -> None:
        """Write it if its stored version is the one loaded (stored bumped); else ConcurrentUpdate."""
        ...
    async def for_agency(self, agency_id: str | None) -> list[Subscription]: ...
    async def matching(self, event_type: str) -> list[Subscription]: ...


class AgencyRepository(Protocol):
    async def get_many(self, agency_ids: Iterable[str]) -> dict[str, Agency]: ...
    async def save(self, agency: Agency) -> None: ...


class DeliveryRepository(Protocol):
    async def add_many(self, deliveries: list[Delivery], claimed: Claimed | None = None) -> None:
        """Insert them; those named in ``claimed`` already claimed by its token until its time."""
        ...
    async def save_claimed(self, delivery: Delivery, claim: str) -> Claim:
        """As :meth:`MessageRepository.save_claimed`."""
        ...
    async def save_claimed_many(self, deliveries: list[Delivery], claim: str) -> int:
        """As :meth:`MessageRepository.save_claimed_many`."""
        ...
    async def claim_due(self, now: datetime, until: datetime, token: str, limit: int) -> list[Delivery]: ...
    async def feed(self, subscription_id: str, after: FeedCursor | None, until: datetime,
                   limit: int) -> list[Delivery]: ...
    async def for_subscription(self, subscription_id: str, limit: int) -> list[Delivery]: ...

    async def health(self, subscription_id: str, since: datetime) -> DeliveryHealth:
        """Delivered and failed since ``since``, pending now, the last success and failure (indexed queries)."""
        ...

    async def cancel_pending(self, subscription_id: str, reason: str) -> int:
        """Cancel the subscription's pending deliveries (a pass that claimed one loses it)."""
        ...


class Repositories(Protocol):
    """Every repository of the service, bound to one transaction (or none)."""

    @property
    def messages(self) -> MessageRepository: ...
    @property
    def contacts(self) -> ContactRepository: ...
    @property
    def cases(self) -> CaseRepository: ...
    @property
    def subscriptions(self) -> SubscriptionRepository: ...
    @property
    def agencies(self) -> AgencyRepository: ...
    @property
    def deliveries(self) -> DeliveryRepository: ...


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
