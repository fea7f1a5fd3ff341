"""The notifications repositories against the real database: a dispatcher's claimed write
lands only while its claim holds (a claim taken over, or cancelled, is LOST, not a
conflict), and a versioned save at a stale version raises ConcurrentUpdate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from contracts.events import registration as reg
from notifications.domain import Claim, Delivery, DeliveryStatus, Message, MessageStatus, RetryPolicy, Subscription
from notifications.repository import MongoRepositories, ensure_indexes
from servicekit.aggregate import ConcurrentUpdate
from servicekit.mongo import make_client
from servicekit.outbound import OutboundPolicy
from tests.support.events import make

T0 = datetime(2026, 3, 4, 2, 0, tzinfo=UTC)
LATER = T0 + timedelta(seconds=60)


@pytest.fixture
async def repos(infra_env, unique):
    client = make_client(infra_env.mongodb_uri)
    db = client[f"ntf_repo_{unique}"]
    await ensure_indexes(db)
    yield MongoRepositories.bind(db, None)
    await client.close()


def sent(m: Message, now: datetime, ref: str) -> Message:
    m.start_attempt(now, RetryPolicy(), ["sms-a"])
    m.delivered(now, ref)
    return m


def message() -> Message:
    return Message.accept(event_id="evt-1", case_number="C-1", recipient_id="u-1", channel="sms",
                          address="13912345678", template="registration.submitted@1", title="t", text="x",
                          urgent=False, now=T0, not_before=T0, ttl=timedelta(hours=1), trace_id=None)


async def test_a_claimed_message_is_saved_only_while_the_claim_holds(repos):
    await repos.messages.add_many([message()])
    [first] = await repos.messages.claim_due(T0, LATER, "pass-1", 10)
    assert await repos.messages.claim_due(T0, LATER, "pass-2", 10) == []  # taken
    [second] = await repos.messages.claim_due(LATER, LATER + timedelta(seconds=60), "pass-2", 10)  # ran out
    assert await repos.messages.save_claimed(sent(second, LATER, "ref-2"), "pass-2") is Claim.KEPT
    assert await repos.messages.save_claimed(sent(first, T0, "ref-1"), "pass-1") is Claim.LOST  # not a conflict
    stored = await repos.messages.get(first.message_id)
    assert (stored.status, stored.provider_ref, stored.version) == (MessageStatus.DELIVERED, "ref-2", 1)


async def test_a_claimed_write_at_a_moved_version_is_a_conflict(repos):
    await repos.messages.add_many([message()])
    [m] = await repos.messages.claim_due(T0, LATER, "pass-1", 10)
    m.version = 7  # not the version it was loaded at
    with pytest.raises(ConcurrentUpdate):
        await repos.messages.save_claimed(m, "pass-1")


async def test_cancelling_takes_a_claimed_delivery_from_its_pass_and_stale_subscriptions_conflict(repos):
    sub = Subscription.create(subscription_id="sub_1", agency_id="tax", event_types=[reg.StepRequestedV1.ce_type],
                              filters={}, webhook_url="https://tax.example/hook", secret="whsec_x", now=T0,
                              check_url=OutboundPolicy().refusal)
    await repos.subscriptions.add(sub)
    event = make(reg.StepRequestedV1, "C-1", step="tax", department="tax", attempt=1, due_at=T0, form={})
    await repos.deliveries.add_many([Delivery.fan_out(sub, event, "{}", T0)])
    [claimed] = await repos.deliveries.claim_due(T0, LATER, "pass-1", 10)
    assert await repos.deliveries.cancel_pending("sub_1", "subscription disabled") == 1
    claimed.succeeded(T0, 204)
    assert await repos.deliveries.save_claimed(claimed, "pass-1") is Claim.LOST
    [stored] = await repos.deliveries.for_subscription("sub_1", 10)
    assert (stored.status, stored.last_error) == (DeliveryStatus.CANCELLED, "subscription disabled")

    loaded, stale = await repos.subscriptions.get("sub_1"), await repos.subscriptions.get("sub_1")
    loaded.disable(T0, "by the agency")
    await repos.subscriptions.save(loaded)
    stale.disable(T0, "410 Gone")
    with pytest.raises(ConcurrentUpdate):
        await repos.subscriptions.save(stale)
    assert (await repos.subscriptions.get("sub_1")).disabled_reason == "by the agency"
