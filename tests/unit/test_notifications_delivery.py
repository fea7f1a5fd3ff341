"""The message delivery lifecycle, backoff with jitter, provider failover, expiry, and the
delivery use case against port-level fakes (two replicas never send one attempt twice)."""

from __future__ import annotations

import asyncio
import copy
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.events.notifications import MessageDeliveryFailedV1
from notifications import service
from notifications.domain import InvalidTransition, Message, MessageStatus, ProviderError, RetryPolicy, Rules
from notifications.ports import Outgoing
from servicekit.clock import FrozenClock

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
    assert isinstance(alert, MessageDeliveryFailedV1)
    assert (alert.message_id, alert.status, alert.attempts, alert.case_number) == (m.message_id, "failed", 5, "C-1")
    assert alert.last_error == "HTTP 503" and alert.causation_id == "evt-1"


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


# -- the delivery use case with port-level fakes -------------------------------------------------
class FakeMessages:
    """In memory, with the repository's claim semantics: a claim token per due message."""

    def __init__(self) -> None:
        self.docs: dict[str, Message] = {}
        self.claims: dict[str, str] = {}

    async def add_many(self, messages):
        for m in messages:
            self.docs[m.message_id] = copy.deepcopy(m)

    async def get(self, message_id):
        m = self.docs.get(message_id)
        return copy.deepcopy(m) if m else None

    async def save(self, message, claim=None):
        stored = self.docs[message.message_id]
        if stored.version != message.version or (claim is not None and self.claims.get(message.message_id) != claim):
            return False
        self.docs[message.message_id] = copy.deepcopy(message)
        self.docs[message.message_id].version += 1
        self.docs[message.message_id].events = []
        self.claims.pop(message.message_id, None)
        return True

    async def claim_due(self, now, until, token, limit):
        mine = []
        for m in list(self.docs.values()):
            if len(mine) < limit and m.is_due(now):
                m.due_at, self.claims[m.message_id] = until, token
                mine.append(copy.deepcopy(m))
            await asyncio.sleep(0)  # let another replica interleave
        return mine


class FakeTx:
    def __init__(self, uow):
        self.messages, self.uow = uow.messages, uow

    def emit(self, events):
        self.uow.emitted.extend(events)


class FakeUoW:
    def __init__(self) -> None:
        self.messages, self.emitted = FakeMessages(), []

    async def run(self, fn):
        return await fn(FakeTx(self))

    async def read(self, fn):
        tx = FakeTx(self)
        tx.emit = lambda events: pytest.fail(f"events emitted outside a transaction: {events}")
        return await fn(tx)


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


async def test_dispatch_fails_over_to_the_second_provider_and_records_each_attempt():
    uow, clock = FakeUoW(), FrozenClock(T0)
    await uow.messages.add_many([message()])
    providers = FakeProviders({"sms-a": [ProviderError("HTTP 503"), ProviderError("timeout")]})
    rules = Rules(retry=POLICY)
    for _ in range(3):
        await service.dispatch_due_messages(uow=uow, providers=providers, rules=rules, clock=clock, rand=lambda: 0.0)
        clock.advance(seconds=10)
    [stored] = uow.messages.docs.values()
    assert stored.status is MessageStatus.DELIVERED and stored.attempts == 3 and stored.provider == "sms-b"
    assert [p for p, _ in providers.sent] == ["sms-b"]
    assert providers.sent[0][1].text.startswith("【一窗通办】") and providers.sent[0][1].case_number == "C-1"
    notes = [h.note for h in stored.history]
    assert any("sms-a: HTTP 503" in n for n in notes) and any("via sms-b" in n for n in notes)


async def test_two_replicas_dispatching_at_once_send_each_message_once():
    uow, clock = FakeUoW(), FrozenClock(T0)
    await uow.messages.add_many([message(recipient_id=f"u-{i}") for i in range(20)])
    providers, rules = FakeProviders(), Rules(retry=POLICY)
    await asyncio.gather(*(service.dispatch_due_messages(uow=uow, providers=providers, rules=rules, clock=clock)
                           for _ in range(2)))
    assert sorted(m.message_id for _, m in providers.sent) == sorted(uow.messages.docs)
    assert all(m.status is MessageStatus.DELIVERED and m.attempts == 1 for m in uow.messages.docs.values())


async def test_an_attempt_whose_outcome_was_never_recorded_is_retried_after_its_claim():
    uow, clock = FakeUoW(), FrozenClock(T0)
    m = message()
    await uow.messages.add_many([m])
    # a replica claimed it and died while sending
    assert len(await uow.messages.claim_due(T0, T0 + timedelta(seconds=POLICY.claim_seconds), "dead", 10)) == 1
    providers, rules = FakeProviders(), Rules(retry=POLICY)
    assert await service.dispatch_due_messages(uow=uow, providers=providers, rules=rules, clock=clock) == 0
    clock.advance(seconds=POLICY.claim_seconds)
    assert await service.dispatch_due_messages(uow=uow, providers=providers, rules=rules, clock=clock) == 1
    assert uow.messages.docs[m.message_id].status is MessageStatus.DELIVERED


async def test_final_failure_emits_the_alert_through_the_unit_of_work():
    uow, clock = FakeUoW(), FrozenClock(T0)
    await uow.messages.add_many([message()])
    providers = FakeProviders({"sms-a": [ProviderError("no such number", permanent=True)]})
    await service.dispatch_due_messages(uow=uow, providers=providers, rules=Rules(retry=POLICY), clock=clock)
    assert [type(e) for e in uow.emitted] == [MessageDeliveryFailedV1]
    assert providers.sent == []
