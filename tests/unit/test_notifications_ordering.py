"""A case's messages reach the applicant in the order its events happened, whatever order
the events arrive in (their ``case_seq``): an event ahead of a missing predecessor waits
for it, for the hold time at most, then goes on and the gap is recorded."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import Event
from contracts.events import registration as reg
from notifications.domain import Gap, Rules, Sequencer
from notifications.ports import Outgoing
from notifications.service import Inbound, MessageDispatch
from servicekit.clock import FrozenClock
from tests.unit.notifications_fakes import unit_of_work

T0 = datetime(2026, 3, 4, 2, 0, tzinfo=UTC)
HOLD = timedelta(seconds=5)
SOURCE = "/one-window/registration"
COMPANY, CODE = "兰州一窗科技有限公司", "91620100MA74XXXX1X"


def case_events(case: str = "C-1") -> list[Event]:
    """One case's applicant-facing events, numbered as the producer's unit of work numbers them."""
    env = {"source": SOURCE, "subject": case, "case_number": case}
    events: list[Event] = [
        reg.ApplicationSubmittedV1(**env, application_id=case, company_name=COMPANY, applicant_id="u-1",
                                   applicant_phone="13912345678", channel="web"),
        reg.ApplicationAcceptedV1(**env, applicant_id="u-1", company_name=COMPANY, kind="establishment", channel="web",
                                  accepted_at=T0, due_at=T0 + timedelta(days=1), staff_id="w-1"),
        reg.StepApprovedV1(**env, step="tax", department="tax"),
        reg.StepApprovedV1(**env, step="licence", department="market_supervision"),
        reg.LicenceIssuedV1(**env, company_name=COMPANY, unified_social_credit_code=CODE, applicant_id="u-1",
                            kind="establishment", issued_at=T0),
        reg.CaseCompletedV1(**env, applicant_id="u-1", company_name=COMPANY, kind="establishment",
                            unified_social_credit_code=CODE, accepted_at=T0, completed_at=T0, within_time_limit=True,
                            results={}),
    ]
    return [e.model_copy(update={"case_seq": n}) for n, e in enumerate(events, 1)]


class SlowGateway:
    """An SMS gateway whose calls take a random while: concurrent sends would overtake each other."""

    def __init__(self, seed: int = 7) -> None:
        self.received: list[Outgoing] = []
        self.rand = random.Random(seed)

    def names(self, channel: str) -> list[str]:
        return ["sms-a"] if channel == "sms" else []

    async def send(self, provider: str, message: Outgoing) -> str | None:
        await asyncio.sleep(self.rand.random() / 200)
        self.received.append(message)
        return f"ref-{len(self.received)}"


class Setup:
    def __init__(self) -> None:
        self.uow, self.clock, self.gateway = unit_of_work(), FrozenClock(T0), SlowGateway()
        rules = Rules(order_hold=HOLD)
        self.inbound = Inbound(uow=self.uow, rules=rules, clock=self.clock)
        self.dispatch = MessageDispatch(uow=self.uow, rules=rules, clock=self.clock, providers=self.gateway,
                                        concurrency=16)

    def texts(self, case: str = "C-1") -> list[str]:
        return [m.text for m in self.gateway.received if m.case_number == case]


async def test_a_cases_events_delivered_in_reverse_order_reach_the_applicant_in_order():
    s = Setup()
    events = case_events()
    for e in reversed(events[1:]):  # the last first; the first event comes last
        assert await s.inbound.handle(e) == []  # parked: a predecessor is missing
    released = await s.inbound.handle(events[0])
    assert [m.case_seq for m in released] == [1, 2, 3, 4, 5, 6]
    await s.dispatch.run_once()
    sent = s.texts()
    assert sent == [m.text for m in released]  # in the case's order, though the gateway calls overlap
    assert "税务" in sent[2] and "市场监管" in sent[3] and "办结" in sent[-1]
    case = s.uow.repos.cases.docs["C-1"]
    assert case.order.seqs == {SOURCE: 6} and case.order.parked == [] and case.order.gaps == []


async def test_several_cases_interleaved_and_shuffled_each_arrive_in_order():
    s = Setup()
    per_case = {c: case_events(c) for c in ("C-1", "C-2", "C-3")}
    arrivals = [e for events in per_case.values() for e in events]
    random.Random(3).shuffle(arrivals)
    for e in arrivals:
        await s.inbound.handle(e)
    await s.dispatch.run_once()
    seq_of = {m.message_id: m.case_seq for m in s.uow.repos.messages.docs.values()}
    for case in per_case:
        assert [seq_of[o.message_id] for o in s.gateway.received if o.case_number == case] == [1, 2, 3, 4, 5, 6]


async def test_a_missing_event_is_waited_for_the_hold_then_the_rest_goes_on_with_the_gap_recorded():
    s = Setup()
    first, second, third, *_ = case_events()
    await s.inbound.handle(first)
    assert await s.inbound.handle(third) == []  # waits for `second`
    s.clock.advance(seconds=4)
    assert await s.inbound.release_held() == 0  # still within the hold
    s.clock.advance(seconds=1)
    assert await s.inbound.release_held() == 1
    [m] = [m for m in s.uow.repos.messages.docs.values() if m.source_event_id == third.event_id]
    case = s.uow.repos.cases.docs["C-1"]
    assert case.order.gaps == [Gap(SOURCE, 2, 2, s.clock.now())] and case.order.hold_until is None
    late = await s.inbound.handle(second)  # arrives after all: told at once rather than never
    assert [x.case_seq for x in late] == [2] and m.case_seq == 3


async def test_events_without_a_number_are_handled_at_once():
    s = Setup()
    first = case_events()[0].model_copy(update={"case_seq": None})
    assert len(await s.inbound.handle(first)) == 1


@settings(max_examples=60, deadline=None)
@given(st.permutations(list(range(1, 9))))
def test_any_arrival_order_is_handled_in_sequence(order):
    seq, handled, now = Sequencer(), list[int](), T0
    for n in order:
        if seq.arrive("p", n, now):
            handled.append(n)
        else:
            seq.park("p", n, "t", {}, now, HOLD)
        while (p := seq.next_ready(now)) is not None:
            handled.append(p.seq)
    assert handled == sorted(order) and seq.gaps == [] and seq.parked == []


async def test_a_fetch_is_one_transaction_and_an_event_refused_for_good_is_named_not_the_rest():
    s = Setup()
    c1, c2 = case_events("C-1"), case_events("C-2")
    stranger = reg.StepApprovedV1(source=SOURCE, subject="C-9", case_number="C-9", step="tax", department="tax")
    refused = await s.inbound.handle_many([c1[0], stranger, c2[0], c1[1]])
    assert list(refused) == [1] and "C-9" in refused[1]  # nobody known to tell: dead-lettered with the reason
    assert sorted(m.case_seq or 0 for m in s.uow.repos.messages.docs.values() if m.case_number == "C-1") == [1, 2]
    assert s.uow.commits == 1
    assert await s.inbound.handle_many([c1[0], c2[0]]) == {}  # again: no second effect
    assert len(s.uow.repos.messages.docs) == 3


async def test_messages_accepted_claimed_go_straight_to_the_dispatcher_and_are_sent_once():
    s = Setup()
    s.inbound.hand_over = s.dispatch.take
    events = case_events()
    await s.inbound.handle_many(list(reversed(events)))  # parked, then released in order, in one fetch
    stored = s.uow.repos.messages
    assert len(stored.claims) == 6 and all(m.due_at and m.due_at > T0 for m in stored.docs.values())
    assert await stored.claim_due(T0, T0, "other-pass", 100) == []  # claimed at insert: no other pass takes them
    assert await s.dispatch.run_once() == 6
    assert [o.message_id for o in s.gateway.received] == [
        m.message_id for m in sorted(stored.docs.values(), key=lambda m: m.case_seq or 0)]
    assert all(m.status == "delivered" for m in stored.docs.values()) and stored.claims == {}
    assert await s.dispatch.run_once() == 0 and len(s.gateway.received) == 6
