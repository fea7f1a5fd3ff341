"""In-memory repositories of the notifications service (``notifications.ports.Repositories``)
with the MongoDB adapter's semantics: stored copies, versions checked and bumped, dispatcher
claims (a claim taken over or cancelled is LOST, not a conflict). Wrap them in the shared
``FakeUnitOfWork``."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from notifications.domain import CaseFile, Claim, Contact, Delivery, DeliveryStatus, Message, SubscriptionStatus
from servicekit.aggregate import ConcurrentUpdate
from tests.support.fakes import FakeUnitOfWork

if TYPE_CHECKING:
    from notifications.domain import Agency, FeedCursor, Subscription

A = TypeVar("A", Message, Delivery)
V = TypeVar("V")


def _stored(item: Any) -> Any:
    kept = copy.deepcopy(item)
    if hasattr(kept, "pull_events"):
        kept.pull_events()
    return kept


class _Claimable(Generic[A]):
    """Due items claimed by a pass's token; outcomes written back under the claim."""

    def __init__(self, key: Callable[[A], str]) -> None:
        self.key = key
        self.docs: dict[str, A] = {}
        self.claims: dict[str, str] = {}

    async def add_many(self, items: list[A], claimed: Any = None) -> None:
        for x in items:
            k = self.key(x)
            self.docs[k] = _stored(x)
            if claimed is not None and k in claimed.ids:
                self.docs[k].due_at, self.claims[k] = claimed.until, claimed.token

    async def save_claimed(self, item: A, claim: str) -> Claim:
        k = self.key(item)
        if self.claims.get(k) != claim:
            return Claim.LOST
        if self.docs[k].version != item.version:
            raise ConcurrentUpdate(k)
        stored = _stored(item)
        stored.version += 1
        self.docs[k] = stored
        del self.claims[k]
        return Claim.KEPT

    async def save_claimed_many(self, items: list[A], claim: str) -> int:
        kept = 0
        for item in items:
            k = self.key(item)
            if self.claims.get(k) == claim and self.docs[k].version == item.version:
                kept += await self.save_claimed(item, claim) is Claim.KEPT
        return kept

    async def claim_due(self, now: datetime, until: datetime, token: str, limit: int) -> list[A]:
        mine = []
        for x in list(self.docs.values()):
            if len(mine) < limit and x.is_due(now):
                x.due_at, self.claims[self.key(x)] = until, token
                mine.append(copy.deepcopy(x))
            await asyncio.sleep(0)  # let another replica interleave
        return mine


class InMemoryMessages(_Claimable[Message]):
    def __init__(self) -> None:
        super().__init__(lambda m: m.message_id)

    async def get(self, message_id: str) -> Message | None:
        return copy.deepcopy(self.docs.get(message_id))

    async def for_case(self, case_number: str) -> list[Message]:
        return [copy.deepcopy(m) for m in self.docs.values() if m.case_number == case_number]

    async def for_recipients(self, recipient_ids: list[str], limit: int) -> list[Message]:
        return [copy.deepcopy(m) for m in self.docs.values() if m.recipient_id in recipient_ids][:limit]


class InMemoryDeliveries(_Claimable[Delivery]):
    def __init__(self) -> None:
        super().__init__(lambda d: d.delivery_id)

    async def feed(self, subscription_id: str, after: FeedCursor | None, until: datetime,
                   limit: int) -> list[Delivery]:
        found = sorted((d for d in self.docs.values() if d.subscription_id == subscription_id
                        and d.created_at <= until), key=lambda d: (d.created_at, d.delivery_id))
        if after is not None:
            found = [d for d in found if (d.created_at, d.delivery_id) > (after.created_at, after.delivery_id)]
        return copy.deepcopy(found[:limit])

    async def for_subscription(self, subscription_id: str, limit: int) -> list[Delivery]:
        return copy.deepcopy([d for d in self.docs.values() if d.subscription_id == subscription_id][:limit])

    async def cancel_pending(self, subscription_id: str, reason: str) -> int:
        n = 0
        for k, d in self.docs.items():
            if d.subscription_id == subscription_id and d.status is DeliveryStatus.PENDING:
                d.status, d.due_at, d.last_error, d.version = DeliveryStatus.CANCELLED, None, reason, d.version + 1
                self.claims.pop(k, None)
                n += 1
        return n


class _Upserted(Generic[V]):
    """Documents written whole, last writer wins (no version)."""

    def __init__(self, key: Callable[[V], str]) -> None:
        self.key, self.docs = key, dict[str, V]()

    async def get(self, key: str) -> V | None:
        return copy.deepcopy(self.docs.get(key))

    async def get_many(self, keys: Iterable[str]) -> dict[str, V]:
        return {k: copy.deepcopy(self.docs[k]) for k in keys if k in self.docs}

    async def save(self, item: V) -> None:
        self.docs[self.key(item)] = copy.deepcopy(item)

    async def save_many(self, items: list[V]) -> None:
        for item in items:
            await self.save(item)


class InMemoryContacts(_Upserted[Contact]):
    def __init__(self) -> None:
        super().__init__(lambda c: c.recipient_id)

    async def staff(self, role: str, department: str | None) -> list[Contact]:
        return [copy.deepcopy(c) for c in self.docs.values()
                if c.role == role and department in (None, c.department)]


class InMemoryCases(_Upserted[CaseFile]):
    def __init__(self) -> None:
        super().__init__(lambda c: c.case_number)

    async def held(self, now: datetime, limit: int) -> list[str]:
        due = [c for c in self.docs.values() if c.order.hold_until is not None and c.order.hold_until <= now]
        return [c.case_number for c in sorted(due, key=lambda c: c.order.hold_until or now)][:limit]


@dataclass
class InMemorySubscriptions:
    docs: dict[str, Subscription] = field(default_factory=dict)
    conflicts: int = 0  # the next saves that find the version moved by another writer

    async def add(self, subscription: Subscription) -> None:
        self.docs[subscription.subscription_id] = _stored(subscription)

    async def get(self, subscription_id: str) -> Subscription | None:
        return copy.deepcopy(self.docs.get(subscription_id))

    async def get_many(self, subscription_ids: Iterable[str]) -> dict[str, Subscription]:
        return {i: copy.deepcopy(self.docs[i]) for i in subscription_ids if i in self.docs}

    async def save(self, subscription: Subscription) -> None:
        stored = self.docs[subscription.subscription_id]
        if self.conflicts:
            self.conflicts -= 1
            stored.version += 1
        if stored.version != subscription.version:
            raise ConcurrentUpdate(subscription.subscription_id)
        self.docs[subscription.subscription_id] = _stored(subscription)
        self.docs[subscription.subscription_id].version += 1

    async def for_agency(self, agency_id: str | None) -> list[Subscription]:
        return [copy.deepcopy(s) for s in self.docs.values() if agency_id in (None, s.agency_id)]

    async def matching(self, event_type: str) -> list[Subscription]:
        return [copy.deepcopy(s) for s in self.docs.values()
                if event_type in s.event_types and s.status is SubscriptionStatus.ACTIVE]


@dataclass
class InMemoryAgencies:
    docs: dict[str, Agency] = field(default_factory=dict)

    async def get_many(self, agency_ids: Iterable[str]) -> dict[str, Agency]:
        return {i: self.docs[i] for i in agency_ids if i in self.docs}

    async def save(self, agency: Agency) -> None:
        self.docs[agency.agency_id] = agency


@dataclass
class InMemoryRepositories:
    messages: InMemoryMessages = field(default_factory=InMemoryMessages)
    contacts: InMemoryContacts = field(default_factory=InMemoryContacts)
    cases: InMemoryCases = field(default_factory=InMemoryCases)
    subscriptions: InMemorySubscriptions = field(default_factory=InMemorySubscriptions)
    agencies: InMemoryAgencies = field(default_factory=InMemoryAgencies)
    deliveries: InMemoryDeliveries = field(default_factory=InMemoryDeliveries)


def unit_of_work() -> FakeUnitOfWork[InMemoryRepositories]:
    return FakeUnitOfWork(InMemoryRepositories())
