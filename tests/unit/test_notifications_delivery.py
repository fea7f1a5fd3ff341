"""The message delivery lifecycle, backoff with jitter, provider failover, expiry, and the
message dispatcher against port-level fakes (two replicas never send one attempt twice; a
pass whose claim was taken over drops its outcome)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.events.notifications import MessageDeliveryFailedV1
from notifications.domain import (
    InvalidTransition,
    Message,
    MessageDeliveryFailed,
    MessageStatus,
    ProviderError,
    RetryPolicy,
    Rules,
)
from notifications.ports import Outgoing
from notifications.service import SOURCE, MessageDispatch
from servicekit.clock import FrozenClock
from tests.unit.notifications_fakes import unit_of_work

T0 = datetime(2026, 3, 4, 2, 0, tzinfo=UTC)
POLICY = RetryPolicy(max_attempts=5, base_seconds=2, cap_seconds=60, attempts_per_provider=2, claim_seconds=30)


def message(**kw) -> Message:
    args = {"event_id": "evt-1", "case_number": "C-1", "recipient_id": "u-1", "channel": "sms",
            "address": "13912345678", "template": "registration.step_approved@1", "title": "办理进度",
            "text": "【一窗通办】办件 C-1：营业执照登记已由市场监管局办结。", "urgent": False, "now": T0, "not_before": T0,
            "ttl": timedelta(hours=24), "trace_id": None} | kw
    return Message.accept(**args)


# -- the state machine --------------------------------------------------------------------------
def test_accepted_sending_delivered():
    m = message()
    assert m.status is MessageStatus.ACCEPTED and m.is_due(T0)
    assert m.start_attempt(T0, POLICY, ["sms-a", "sms-b"]) == "sms-a"
    assert m.status is MessageStatus.SENDING and m.attempts == 1 and m.due_at == T0 + timedelta(seconds=30)
    m.delivered(T0 + timedelta(seconds=1), "ref-1")
    assert m.status is MessageStatus.DELIVERED and m.due_at is None and m.provider_ref == "ref-1"
    assert [h.status for h in m.history] == ["accepted", "sending", "delivered"]
    assert m.pull_events() == []


def test_transient_failures_retry_with_backoff_then_fail_with_an_alert():
    m = message()
    now = T0
    for attempt in range(1, POLICY.max_attempts + 1):
        assert m.is_due(now)
        m.start_attempt(now, POLICY, ["sms-a", "sms-b"])
        m.attempt_failed(now, "HTTP 503", permanent=False, policy=POLICY, rand=0.5)
        if attempt < POLICY.max_attempts:
            assert m.status is MessageStatus.SENDING
            assert m.due_at == now + POLICY.backoff(attempt, 0.5)
            assert not m.is_due(now)
            now = m.due_at
    assert m.status is MessageStatus.FAILED and m.due_at is None and m.attempts == POLICY.max_attempts
    [alert] = m.pull_events()
    assert isinstance(alert, MessageDeliveryFailed)
    assert (alert.message_id, alert.status, alert.attempts, alert.channel) == (m.message_id, "failed", 5, "sms")
    assert alert.last_error == "HTTP 503" and alert.source_event_id == "evt-1"


def test_a_permanent_rejection_fails_at_once():
    m = message()
    m.start_attempt(T0, POLICY, ["sms-a"])
    m.attempt_failed(T0, "invalid number", permanent=True, policy=POLICY, rand=0.0)
    assert m.status is MessageStatus.FAILED and m.attempts == 1
    assert m.pull_events()[0].status == "failed"


def test_a_message_not_delivered_before_it_expires_expires():
    m = message(ttl=timedelta(minutes=10))
    m.start_attempt(T0, POLICY, ["sms-a"])
    m.attempt_failed(T0, "timeout", permanent=False, policy=RetryPolicy(base_seconds=3600, cap_seconds=3600), rand=0.9)
    assert m.due_at == m.expires_at  # a retry is never scheduled past the expiry
    assert m.start_attempt(m.expires_at, POLICY, ["sms-a"]) is None
    assert m.status is MessageStatus.EXPIRED and m.due_at is None
    assert m.pull_events()[0].status == "expired"


def test_no_provider_for_the_channel_fails_the_message():
    m = message(channel="wechat")
    assert m.start_attempt(T0, POLICY, []) is None
    assert m.status is MessageStatus.FAILED and "no provider" in (m.last_error or "")


@pytest.mark.parametrize("final", ["delivered", "failed", "expired"])
def test_final_states_are_final(final):
    m = message()
    m.start_attempt(T0, POLICY, ["sms-a"])
    {"delivered": lambda: m.delivered(T0, None),
     "failed": lambda: m.attempt_failed(T0, "x", permanent=True, policy=POLICY, rand=0),
     "expired": lambda: (setattr(m, "expires_at", T0), m.start_attempt(T0, POLICY, ["sms-a"]))}[final]()
    assert m.status == final
    with pytest.raises(InvalidTransition):
        m.start_attempt(T0, POLICY, ["sms-a"])
    with pytest.raises(InvalidTransition):
        m.delivered(T0, None)


def test_quiet_hours_keep_an_accepted_message_waiting():
    later = T0 + timedelta(hours=8)
    m = message(not_before=later)
    assert not m.is_due(T0) and m.is_due(later)
    assert m.expires_at == later + timedelta(hours=24)


# -- backoff and failover -------------------------------------------------------------------------
@given(st.integers(min_value=1, max_value=40), st.floats(min_value=0, max_value=1, exclude_max=True))
def test_backoff_is_exponential_with_equal_jitter_and_capped(attempt, rand):
    wait = POLICY.backoff(attempt, rand).total_seconds()
    step = min(POLICY.cap_seconds, POLICY.base_seconds * 2 ** (attempt - 1))
    assert step / 2 <= wait <= step
    assert wait <= POLICY.cap_seconds


def test_backoff_grows_until_the_cap_and_jitter_spreads_retries():
    assert [POLICY.backoff(n, 0.0).total_seconds() for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]
    assert POLICY.backoff(3, 0.0) < POLICY.backoff(3, 0.99)


def test_attempts_fail_over_between_providers_in_turn():
    assert [POLICY.provider_for(n, ["a", "b"]) for n in range(1, 7)] == ["a", "a", "b", "b", "a", "a"]
    assert [POLICY.provider_for(n, ["only"]) for n in (1, 2, 3)] == ["only"] * 3
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)


# -- the message dispatcher with port-level fakes -----------------------------------------------
class FakeProviders:
    def __init__(self, fail: dict[str, list[ProviderError]] | None = None) -> None:
        self.sent: list[tuple[str, Outgoing]] = []
        self.fail = fail or {}

    def names(self, channel):
        return {"sms": ["sms-a", "sms-b"]}.get(channel, [])

    async def send(self, provider, message):
        await asyncio.sleep(0)
        if self.fail.get(provider):
            raise self.fail[provider].pop(0)
        self.sent.append((provider, message))
        return f"{provider}-ref"


def dispatcher(uow, providers, clock, **kw) -> MessageDispatch:
    return MessageDispatch(uow=uow, rules=Rules(retry=POLICY), clock=clock, providers=providers, **kw)


async def test_dispatch_fails_over_to_the_second_provider_and_records_each_attempt():
    uow, clock = unit_of_work(), FrozenClock(T0)
    await uow.repos.messages.add_many([message()])
    providers = FakeProviders({"sms-a": [ProviderError("HTTP 503"), ProviderError("timeout")]})
    dispatch = dispatcher(uow, providers, clock, rand=lambda: 0.0)
    for _ in range(3):
        await dispatch.run_once()
        clock.advance(seconds=10)
    [stored] = uow.repos.messages.docs.values()
    assert stored.status is MessageStatus.DELIVERED and stored.attempts == 3 and stored.provider == "sms-b"
    assert [p for p, _ in providers.sent] == ["sms-b"]
    assert providers.sent[0][1].text.startswith("【一窗通办】") and providers.sent[0][1].case_number == "C-1"
    notes = [h.note for h in stored.history]
    assert any("sms-a: HTTP 503" in n for n in notes) and any("via sms-b" in n for n in notes)


async def test_two_replicas_dispatching_at_once_send_each_message_once():
    uow, clock = unit_of_work(), FrozenClock(T0)
    await uow.repos.messages.add_many([message(recipient_id=f"u-{i}") for i in range(20)])
    providers = FakeProviders()
    replicas = [dispatcher(uow, providers, clock), dispatcher(uow, providers, clock)]
    assert sum(await asyncio.gather(*(r.run_once() for r in replicas))) == 20
    assert sorted(m.message_id for _, m in providers.sent) == sorted(uow.repos.messages.docs)
    assert all(m.status is MessageStatus.DELIVERED and m.attempts == 1 for m in uow.repos.messages.docs.values())


async def test_an_attempt_whose_outcome_was_never_recorded_is_retried_after_its_claim():
    uow, clock = unit_of_work(), FrozenClock(T0)
    m = message()
    await uow.repos.messages.add_many([m])
    # a replica claimed it and died while sending
    assert len(await uow.repos.messages.claim_due(T0, T0 + timedelta(seconds=POLICY.claim_seconds), "dead", 10)) == 1
    dispatch = dispatcher(uow, FakeProviders(), clock)
    assert await dispatch.run_once() == 0
    clock.advance(seconds=POLICY.claim_seconds)
    assert await dispatch.run_once() == 1
    assert uow.repos.messages.docs[m.message_id].status is MessageStatus.DELIVERED


async def test_a_pass_whose_claim_was_taken_over_drops_its_outcome_without_a_conflict():
    uow, clock = unit_of_work(), FrozenClock(T0)
    await uow.repos.messages.add_many([message()])
    [slow] = await uow.repos.messages.claim_due(T0, T0 + timedelta(seconds=POLICY.claim_seconds), "slow", 10)
    clock.advance(seconds=POLICY.claim_seconds)  # the slow pass's claim runs out: another pass delivers
    assert await dispatcher(uow, FakeProviders(), clock).run_once() == 1
    # the slow pass comes back with a rejection: its outcome (and alert) must not land
    rejecting = dispatcher(uow, FakeProviders({"sms-a": [ProviderError("no such number", permanent=True)]}), clock)
    assert await rejecting.attempt(slow, "slow")
    [stored] = uow.repos.messages.docs.values()
    assert (stored.status, stored.attempts, stored.version) == (MessageStatus.DELIVERED, 1, 1)
    assert uow.emitted == []


async def test_final_failure_emits_the_alert_through_the_unit_of_work():
    uow, clock = unit_of_work(), FrozenClock(T0)
    await uow.repos.messages.add_many([message()])
    providers = FakeProviders({"sms-a": [ProviderError("no such number", permanent=True)]})
    await dispatcher(uow, providers, clock).run_once()
    [alert] = uow.emitted
    assert isinstance(alert, MessageDeliveryFailedV1) and providers.sent == []
    assert (alert.source, alert.case_number, alert.subject, alert.time) == (SOURCE, "C-1", "C-1", T0)
    assert (alert.status, alert.channel, alert.attempts, alert.last_error) == ("failed", "sms", 1, "no such number")
    assert alert.causation_id == alert.source_event_id == "evt-1"
    assert uow.repos.messages.docs[alert.message_id].status is MessageStatus.FAILED
