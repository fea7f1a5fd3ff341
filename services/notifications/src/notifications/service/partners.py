"""Use cases of partner agencies: subscriptions (scoped to the calling agency), the
operator's agency entitlements, the replay feed, and signed-webhook delivery."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from notifications.domain import (
    Agency,
    Delivery,
    FeedCursor,
    NotFound,
    Outcome,
    Subscription,
    WebhookPolicy,
)
from notifications.ports import Tx, UnitOfWork, WebhookSender
from servicekit.clock import Clock


# -- subscriptions ----------------------------------------------------------------------------
async def create_subscription(*, uow: UnitOfWork, agency_id: str, event_types: list[str],
                              filters: dict[str, str | list[str]], webhook_url: str | None, secret: str | None,
                              new_secret: Callable[[], str], now: datetime, allow_http: bool) -> Subscription:
    subscription = Subscription.create(
        subscription_id=f"sub_{uuid.uuid4().hex}", agency_id=agency_id, event_types=event_types, filters=filters,
        webhook_url=webhook_url, secret=secret or (new_secret() if webhook_url else None), now=now,
        allow_http=allow_http,
    )

    async def work(tx: Tx) -> None:
        await tx.subscriptions.add(subscription)

    await uow.run(work)
    return subscription


async def get_subscription(*, uow: UnitOfWork, subscription_id: str, agency_id: str | None) -> Subscription:
    """The subscription if the caller may see it: its own agency's (``agency_id``), or any for an operator (None)."""

    async def work(tx: Tx) -> Subscription | None:
        return await tx.subscriptions.get(subscription_id)

    sub = await uow.read(work)
    if sub is None or (agency_id is not None and sub.agency_id != agency_id):
        raise NotFound(f"no subscription {subscription_id}")
    return sub


async def list_subscriptions(*, uow: UnitOfWork, agency_id: str | None) -> list[Subscription]:
    async def work(tx: Tx) -> list[Subscription]:
        return await tx.subscriptions.for_agency(agency_id)

    return await uow.read(work) or []


async def set_subscription_active(*, uow: UnitOfWork, subscription_id: str, agency_id: str | None, active: bool,
                                  now: datetime) -> Subscription:
    """Disable (no more deliveries; pending ones are cancelled) or enable again."""

    async def work(tx: Tx) -> Subscription | None:
        sub = await tx.subscriptions.get(subscription_id)
        if sub is None or (agency_id is not None and sub.agency_id != agency_id):
            return None
        if active:
            sub.enable()
        else:
            sub.disable(now, "disabled by the agency")
            await tx.deliveries.cancel_pending(sub.subscription_id, "subscription disabled")
        await tx.subscriptions.save(sub)
        return sub

    sub = await uow.run(work)
    if sub is None:
        raise NotFound(f"no subscription {subscription_id}")
    return sub


async def deliveries_of(*, uow: UnitOfWork, subscription_id: str, agency_id: str | None,
                        limit: int = 100) -> list[Delivery]:
    await get_subscription(uow=uow, subscription_id=subscription_id, agency_id=agency_id)

    async def work(tx: Tx) -> list[Delivery]:
        return await tx.deliveries.for_subscription(subscription_id, limit)

    return await uow.read(work) or []


async def read_feed(*, uow: UnitOfWork, subscription_id: str, agency_id: str | None, after: str | None,
                    limit: int, now: datetime, settle: timedelta) -> tuple[list[Delivery], str | None]:
    """The subscription's events in order, after the cursor; and the cursor to go on from.

    Entries younger than ``settle`` are held back, so a transaction that commits a
    little late never lands behind a cursor a reader already has."""
    await get_subscription(uow=uow, subscription_id=subscription_id, agency_id=agency_id)
    cursor = FeedCursor.decode(after) if after else None

    async def work(tx: Tx) -> list[Delivery]:
        return await tx.deliveries.feed(subscription_id, cursor, now - settle, limit)

    items = await uow.read(work) or []
    next_cursor = FeedCursor(items[-1].created_at, items[-1].delivery_id).encode() if items else after
    return items, next_cursor


# -- agencies (operators) ---------------------------------------------------------------------
async def set_agency(*, uow: UnitOfWork, agency_id: str, departments: list[str], personal_data: bool,
                     now: datetime) -> Agency:
    agency = Agency(agency_id, frozenset(departments) | {agency_id}, personal_data, now)

    async def work(tx: Tx) -> None:
        await tx.agencies.save(agency)

    await uow.run(work)
    return agency


async def get_agency(*, uow: UnitOfWork, agency_id: str) -> Agency:
    async def work(tx: Tx) -> dict[str, Agency]:
        return await tx.agencies.get_many([agency_id])

    found = await uow.read(work) or {}
    return found.get(agency_id) or Agency.default(agency_id)


# -- webhook delivery -------------------------------------------------------------------------
async def dispatch_due_webhooks(*, uow: UnitOfWork, sender: WebhookSender, policy: WebhookPolicy, clock: Clock,
                                limit: int = 100, concurrency: int = 16,
                                rand: Callable[[], float] = random.random) -> int:
    """One pass: claim the webhooks due now (up to ``limit``) and attempt each."""
    now, token = clock.now(), uuid.uuid4().hex
    until = now + timedelta(seconds=policy.claim_seconds)

    async def claim(tx: Tx) -> tuple[list[Delivery], dict[str, Subscription]]:
        due = await tx.deliveries.claim_due(now, until, token, limit)
        return due, await tx.subscriptions.get_many({d.subscription_id for d in due})

    due, subscriptions = await uow.read(claim)
    gate = asyncio.Semaphore(concurrency)

    async def one(d: Delivery) -> bool:
        async with gate:
            return await push(d, subscriptions.get(d.subscription_id), token=token, uow=uow, sender=sender,
                              policy=policy, clock=clock, rand=rand)

    return sum(await asyncio.gather(*(one(d) for d in due)))


async def push(delivery: Delivery, subscription: Subscription | None, *, token: str, uow: UnitOfWork,
               sender: WebhookSender, policy: WebhookPolicy, clock: Clock,
               rand: Callable[[], float] = random.random) -> bool:
    """One attempt at one webhook claimed by ``token``. False if not attempted (its
    subscription is gone or disabled: then it is cancelled)."""
    if subscription is None or not subscription.active or not subscription.webhook_url or not subscription.secret:
        delivery.cancel(clock.now(), "subscription disabled")
        await _save(uow, delivery, token)
        return False
    delivery.start_attempt(clock.now(), policy)
    resp = await sender.post(subscription.webhook_url, subscription.secret, delivery.delivery_id, delivery.payload,
                             clock.now())
    if resp.ok:
        delivery.succeeded(clock.now(), resp.status_code or 200)
        await _save(uow, delivery, token)
        return True
    outcome = delivery.failed(clock.now(), status_code=resp.status_code, error=resp.error or f"HTTP {resp.status_code}",
                              retry_after=resp.retry_after, policy=policy, rand=rand())
    gone = subscription if outcome is Outcome.GONE else None
    if gone is not None:
        gone.disable(clock.now(), f"{subscription.webhook_url} answered 410 Gone")
    await _save(uow, delivery, token, disable=gone)
    return True


async def _save(uow: UnitOfWork, delivery: Delivery, claim: str, disable: Subscription | None = None) -> bool:
    events = delivery.pull_events()

    async def work(tx: Tx) -> bool:
        if not await tx.deliveries.save(delivery, claim):
            return False
        if events:
            tx.emit(events)
        if disable is not None:
            await tx.subscriptions.save(disable)
            await tx.deliveries.cancel_pending(disable.subscription_id, disable.disabled_reason or "disabled")
        return True

    atomic = bool(events) or disable is not None
    saved = bool(await (uow.run(work) if atomic else uow.read(work)))
    if saved:
        delivery.version += 1
    return saved
