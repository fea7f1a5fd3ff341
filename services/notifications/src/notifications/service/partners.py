"""Use cases of partner agencies: subscriptions (an agency sees only its own, an operator
all), the operators' agency entitlements, the replay feed, and signed-webhook delivery."""

from __future__ import annotations

import random
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TypeVar

from notifications.domain import (
    Agency,
    Claim,
    Delivery,
    FeedCursor,
    Forbidden,
    NotFound,
    Outcome,
    Subscription,
    SubscriptionHealth,
    WebhookPolicy,
)
from notifications.ports import Repositories, WebhookSender
from notifications.service.dispatch import Dispatcher
from notifications.service.events import alerts
from servicekit.clock import Clock
from servicekit.outbound import OutboundPolicy
from servicekit.ports import Tx, UnitOfWork
from servicekit.principal import Principal

PARTNER_AGENCY, OPERATOR, SUPERVISOR = "partner_agency", "operator", "supervisor"
HEALTH_WINDOW = timedelta(hours=24)
T = TypeVar("T")


def _nothing() -> None:
    return None


def agency_scope(who: Principal) -> str | None:
    """A partner agency sees its own subscriptions; an operator sees all (None)."""
    return who.agency_id if who.role == PARTNER_AGENCY else None


class Partners:
    """``new_secret()`` makes a webhook signing secret; ``outbound`` judges webhook URLs
    (https only unless it allows http; public addresses only); the replay feed holds back
    entries younger than ``feed_settle``. The URL's addresses are judged again at every
    delivery (the sender's transport), after resolving its name. ``on_change()`` is called
    after each write of a subscription or an agency (it drops what the consumer kept)."""

    def __init__(self, *, uow: UnitOfWork[Repositories], clock: Clock, new_secret: Callable[[], str],
                 outbound: OutboundPolicy, feed_settle: timedelta, on_change: Callable[[], None] = _nothing) -> None:
        self.uow, self.clock, self.new_secret = uow, clock, new_secret
        self.outbound, self.feed_settle, self.on_change = outbound, feed_settle, on_change

    async def _write(self, work: Callable[[Tx[Repositories]], Awaitable[T]]) -> T:
        try:
            return await self.uow.run(work)
        finally:  # committed, or perhaps committed: forget what was read before either way
            self.on_change()

    # -- subscriptions ----------------------------------------------------------------------
    async def subscribe(self, who: Principal, *, event_types: list[str], filters: dict[str, str | list[str]],
                        webhook_url: str | None, secret: str | None) -> Subscription:
        """A subscription of the calling agency (its secret is generated unless given). In a
        transaction, so that an idempotent request's answer is recorded with it. The webhook's
        name is resolved now too: one that points inside is refused at once."""
        refused = await self.outbound.resolved_refusal(webhook_url) if webhook_url is not None else None
        subscription = Subscription.create(
            subscription_id=f"sub_{uuid.uuid4().hex}", agency_id=who.agency_id or "", event_types=event_types,
            filters=filters, webhook_url=webhook_url, secret=secret or (self.new_secret() if webhook_url else None),
            now=self.clock.now(), check_url=lambda _url: refused)

        async def work(tx: Tx[Repositories]) -> Subscription:
            await tx.repos.subscriptions.add(subscription)
            return subscription

        return await self._write(work)

    async def subscription(self, who: Principal, subscription_id: str) -> Subscription:
        """The subscription if the caller may see it (404 otherwise, never 403)."""
        sub = await self.uow.read(lambda repos: repos.subscriptions.get(subscription_id))
        return _visible(sub, who, subscription_id)

    async def subscriptions(self, who: Principal) -> list[Subscription]:
        return await self.uow.read(lambda repos: repos.subscriptions.for_agency(agency_scope(who)))

    async def health(self, who: Principal) -> list[SubscriptionHealth]:
        """Every subscription's delivery health over the last 24 hours (operators, supervisors)."""
        if who.role not in (OPERATOR, SUPERVISOR):
            raise Forbidden("delivery health is for operators and supervisors")
        since = self.clock.now() - HEALTH_WINDOW

        async def read(repos: Repositories) -> list[SubscriptionHealth]:
            subs = await repos.subscriptions.for_agency(None)
            return [SubscriptionHealth(s, await repos.deliveries.health(s.subscription_id, since)) for s in subs]

        return await self.uow.read(read)

    async def set_active(self, who: Principal, subscription_id: str, active: bool) -> Subscription:
        """Disable (no more deliveries; pending ones are cancelled) or enable again. Asking for
        the state it is in already (e.g. a retry) changes nothing."""
        now = self.clock.now()

        async def work(tx: Tx[Repositories]) -> Subscription:
            sub = _visible(await tx.repos.subscriptions.get(subscription_id), who, subscription_id)
            if not (sub.enable() if active else sub.disable(now, "disabled by the agency")):
                return sub
            if not active:
                await tx.repos.deliveries.cancel_pending(sub.subscription_id, "subscription disabled")
            await tx.repos.subscriptions.save(sub)
            return sub

        return await self._write(work)

    async def deliveries(self, who: Principal, subscription_id: str, limit: int = 100) -> list[Delivery]:
        await self.subscription(who, subscription_id)
        return await self.uow.read(lambda repos: repos.deliveries.for_subscription(subscription_id, limit))

    async def feed(self, who: Principal, subscription_id: str, after: str | None,
                   limit: int) -> tuple[list[Delivery], str | None]:
        """The subscription's events in order, after the cursor; and the cursor to go on from.

        Entries younger than ``feed_settle`` are held back, so a transaction that commits a
        little late never lands behind a cursor a reader already has."""
        await self.subscription(who, subscription_id)
        cursor = FeedCursor.decode(after) if after else None
        until = self.clock.now() - self.feed_settle
        items = await self.uow.read(lambda repos: repos.deliveries.feed(subscription_id, cursor, until, limit))
        next_cursor = FeedCursor(items[-1].created_at, items[-1].delivery_id).encode() if items else after
        return items, next_cursor

    # -- agencies (operators) ---------------------------------------------------------------
    async def set_agency(self, agency_id: str, *, departments: list[str], personal_data: bool) -> Agency:
        """An operator sets an agency's entitlements (its own department always included)."""
        agency = Agency(agency_id, frozenset(departments) | {agency_id}, personal_data, self.clock.now())

        async def work(tx: Tx[Repositories]) -> Agency:
            await tx.repos.agencies.save(agency)
            return agency

        return await self._write(work)

    async def agency(self, who: Principal, agency_id: str) -> Agency:
        """An agency's entitlements: an agency reads only its own."""
        if agency_scope(who) not in (None, agency_id):
            raise NotFound(f"no agency {agency_id}")
        found = await self.uow.read(lambda repos: repos.agencies.get_many([agency_id]))
        return found.get(agency_id) or Agency.default(agency_id)


def _visible(sub: Subscription | None, who: Principal, subscription_id: str) -> Subscription:
    if sub is None or agency_scope(who) not in (None, sub.agency_id):
        raise NotFound(f"no subscription {subscription_id}")
    return sub


class WebhookDispatch(Dispatcher[tuple[Delivery, Subscription | None]]):
    """One pass of the webhook dispatcher: the due deliveries, signed, to their subscriptions' URLs."""

    def __init__(self, *, uow: UnitOfWork[Repositories], clock: Clock, sender: WebhookSender, policy: WebhookPolicy,
                 batch: int = 100, concurrency: int = 16, rand: Callable[[], float] = random.random,
                 on_change: Callable[[], None] = _nothing) -> None:
        """``on_change()``: called after a subscription was disabled (410 Gone)."""
        super().__init__(uow=uow, clock=clock, claim_seconds=policy.claim_seconds, batch=batch,
                         concurrency=concurrency, rand=rand)
        self.sender, self.policy, self.on_change = sender, policy, on_change
        self._handed: list[tuple[list[Delivery], str]] = []  # inserted already claimed (take)
        self._outcomes: list[Delivery] = []  # this pass's outcomes without an alert, recorded together

    def take(self, deliveries: list[Delivery], token: str) -> None:
        """Deliveries the consumer inserted already claimed by ``token`` (in its transaction):
        attempted by the next pass without a claim write of their own (their subscriptions
        are read then, as for claimed ones). Should this process stop first, the claim runs
        out and a later pass takes them."""
        self._handed.append((deliveries, token))

    async def run_once(self) -> int:
        """What is due (claimed by this pass: retries), then what the consumer handed over."""
        handed, self._handed = self._handed, []
        done = await super().run_once()
        for deliveries, token in handed:
            ids = {d.subscription_id for d in deliveries}

            async def read(repos: Repositories, ids: set[str] = ids) -> dict[str, Subscription]:
                return await repos.subscriptions.get_many(ids)

            subscriptions = await self.uow.read(read)
            done += await self.attempt_all([(d, subscriptions.get(d.subscription_id)) for d in deliveries], token)
        return done

    async def claim(self, now: datetime, until: datetime, token: str) -> list[tuple[Delivery, Subscription | None]]:
        async def work(repos: Repositories) -> list[tuple[Delivery, Subscription | None]]:
            due = await repos.deliveries.claim_due(now, until, token, self.batch)
            subscriptions = await repos.subscriptions.get_many({d.subscription_id for d in due})
            return [(d, subscriptions.get(d.subscription_id)) for d in due]

        return await self.uow.autocommit(work)

    async def attempt(self, item: tuple[Delivery, Subscription | None], token: str) -> bool:
        return await self.push(*item, token)

    async def push(self, delivery: Delivery, subscription: Subscription | None, token: str) -> bool:
        """One attempt at one webhook claimed by ``token``. False if not attempted (its
        subscription is gone or disabled: then it is cancelled)."""
        if subscription is None or not subscription.active or not subscription.webhook_url or not subscription.secret:
            delivery.cancel(self.clock.now(), "subscription disabled")
            await self._save(delivery, token)
            return False
        delivery.start_attempt(self.clock.now(), self.policy)
        resp = await self.sender.post(subscription.webhook_url, subscription.secret, delivery.delivery_id,
                                      delivery.payload, self.clock.now())
        if resp.ok:
            delivery.succeeded(self.clock.now(), resp.status_code or 200)
            await self._save(delivery, token)
            return True
        outcome = delivery.failed(self.clock.now(), status_code=resp.status_code,
                                  error=resp.error or f"HTTP {resp.status_code}", retry_after=resp.retry_after,
                                  policy=self.policy, rand=self.rand())
        gone = f"{subscription.webhook_url} answered 410 Gone" if outcome is Outcome.GONE else None
        await self._save(delivery, token, disable=gone)
        return True

    async def settle(self, token: str) -> None:
        """The pass's outcomes without an alert in one transaction (one durable commit, and no
        write outside a transaction per delivery: decision 65), each written only if the
        pass's claim still holds it."""
        outcomes, self._outcomes = self._outcomes, []
        if outcomes:
            await self.uow.run(lambda tx: tx.repos.deliveries.save_claimed_many(outcomes, token))

    async def _save(self, delivery: Delivery, token: str, disable: str | None = None) -> Claim | None:
        """The outcome, if the claim still holds: with its alert, or with the subscription
        disabled for the reason ``disable``, at once (in a transaction); else with the pass's
        others (:meth:`settle`)."""
        facts = delivery.pull_events()
        if not facts and disable is None:
            self._outcomes.append(delivery)
            return None
        now = self.clock.now()
        events = alerts(facts, case_number=delivery.case_number, cause_id=delivery.event_id, now=now)

        async def work(tx: Tx[Repositories]) -> Claim:
            claim = await tx.repos.deliveries.save_claimed(delivery, token)
            if claim is Claim.LOST:
                return claim
            tx.emit(events)
            if disable is not None and (sub := await tx.repos.subscriptions.get(delivery.subscription_id)):
                sub.disable(now, disable)
                await tx.repos.subscriptions.save(sub)
                await tx.repos.deliveries.cancel_pending(sub.subscription_id, disable)
            return claim

        try:
            return await self.uow.run(work)
        finally:
            if disable is not None:
                self.on_change()
