"""Use case: an event in → the case file and the contact directory updated, the messages
it causes accepted, the partner agencies' deliveries fanned out; all in one transaction
with the processed-event marker, so a redelivered event has no second effect."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from contracts import Event, topic_for_type
from notifications.domain import (
    Agency,
    CaseFile,
    CaseUnknown,
    Channel,
    Contact,
    Delivery,
    Message,
    Parked,
    Rules,
    Target,
    event_attributes,
    messages_for,
    notices_for,
    redact,
)
from notifications.ports import Repositories
from notifications.service.events import structured
from servicekit.clock import Clock
from servicekit.ports import Tx, UnitOfWork

CONSUMER = "notifications"
log = logging.getLogger(__name__)


def _nothing() -> None:
    return None


class Inbound:
    """``handle`` each consumed event. ``on_new_work`` is called after a commit that
    accepted messages or deliveries (it wakes the dispatchers); ``trace_id`` gives the
    current trace, recorded with each message."""

    def __init__(self, *, uow: UnitOfWork[Repositories], rules: Rules, clock: Clock,
                 trace_id: Callable[[], str | None] = _nothing, on_new_work: Callable[[], None] = _nothing) -> None:
        self.uow, self.rules, self.clock = uow, rules, clock
        self.trace_id, self.on_new_work = trace_id, on_new_work

    async def handle(self, event: Event) -> list[Message]:
        """Tell applicants, staff and subscribed partner agencies about a case event, in the
        case's order: an event ahead of a missing predecessor is parked (``rules.order_hold``
        at most) and handled after it. Returns the messages accepted (none for an event
        handled before or parked); those of parked events it released come after them."""
        now, trace_id = self.clock.now(), self.trace_id()

        async def work(tx: Tx[Repositories], fresh: list[Event]) -> tuple[list[Message], list[Delivery]]:
            if not fresh:
                return [], []
            case = await tx.repos.cases.get(event.case_number) or CaseFile(event.case_number)
            if not case.order.arrive(event.source, event.case_seq, now):
                case.order.park(event.source, event.case_seq or 0, event.ce_type, event.model_dump(mode="json"), now,
                                self.rules.order_hold)
                await tx.repos.cases.save(case)
                return [], []
            return await self._in_order(tx.repos, case, event, now, trace_id)

        messages, deliveries = await self.uow.consume(CONSUMER, [event], work)
        if messages or deliveries:
            self.on_new_work()
        return messages

    async def release_held(self, limit: int = 100) -> int:
        """Handle the parked events whose hold ran out (a worker's pass), each case in one
        transaction, in order, the gaps recorded: how many cases."""
        now, trace_id = self.clock.now(), self.trace_id()
        cases = await self.uow.read(lambda repos: repos.cases.held(now, limit))
        woken = False
        for number in cases:

            async def work(tx: Tx[Repositories], number: str = number) -> tuple[list[Message], list[Delivery]]:
                case = await tx.repos.cases.get(number) or CaseFile(number)
                return await self._in_order(tx.repos, case, None, now, trace_id)

            messages, deliveries = await self.uow.run(work)
            woken = woken or bool(messages or deliveries)
        if woken:
            self.on_new_work()
        return len(cases)

    async def _in_order(self, repos: Repositories, case: CaseFile, event: Event | None, now: datetime,
                        trace_id: str | None) -> tuple[list[Message], list[Delivery]]:
        """``event`` (if any), then every parked event now ready, in order; the case file saved."""
        gaps = len(case.order.gaps)
        messages, deliveries = await self._record(repos, case, event, now, trace_id) if event else ([], [])
        while (parked := case.order.next_ready(now)) is not None:
            try:
                m, d = await self._record(repos, case, revive(parked), now, trace_id)
            except CaseUnknown as exc:  # its applicant never became known: nobody to tell
                log.warning("case %s: parked event %s dropped: %s", case.case_number, parked.ce_type, exc)
                continue
            messages, deliveries = messages + m, deliveries + d
        for gap in case.order.gaps[gaps:]:
            log.warning("case %s: events %d-%d of %s did not arrive within the hold; went on without them",
                        case.case_number, gap.first, gap.last, gap.source)
        await repos.cases.save(case)
        return messages, deliveries

    async def _record(self, repos: Repositories, case: CaseFile, event: Event, now: datetime,
                      trace_id: str | None) -> tuple[list[Message], list[Delivery]]:
        case.learn(event, now)
        contacts = _ContactCache(repos)
        phone, applicant = getattr(event, "applicant_phone", None), getattr(event, "applicant_id", None)
        if phone and applicant and (contact := await contacts.person(applicant)).learn_phone(phone, now):
            await repos.contacts.save(contact)
        messages: list[Message] = []
        for notice in notices_for(event, case):
            recipients = await contacts.resolve(notice.target)
            messages += messages_for(notice, recipients, event, self.rules, now, trace_id)
        if messages:
            await repos.messages.add_many(messages)
        deliveries = await _fan_out(repos, event, now)
        if deliveries:
            await repos.deliveries.add_many(deliveries)
        return messages, deliveries


def revive(parked: Parked) -> Event:
    """A parked event as it arrived."""
    return topic_for_type(parked.ce_type).event.model_validate(parked.payload)


class _ContactCache:
    """Contacts read once per transaction; targets resolved to people (or their group)."""

    def __init__(self, repos: Repositories) -> None:
        self.repos, self.people = repos, dict[str, Contact]()

    async def person(self, person_id: str) -> Contact:
        if person_id not in self.people:
            self.people[person_id] = await self.repos.contacts.get(person_id) or Contact(person_id)
        return self.people[person_id]

    async def resolve(self, target: Target) -> list[Contact]:
        if target.kind == "person":
            return [await self.person(target.key)]
        role, department = ("reviewer", target.key) if target.kind == "reviewers" else ("supervisor", None)
        staff = await self.repos.contacts.staff(role, department)
        # Nobody registered: one message to the group's push topic, so it is not lost.
        return staff or [Contact(target.group_id, role="group", channels=(Channel.APP_PUSH,))]


async def _fan_out(repos: Repositories, event: Event, now: datetime) -> list[Delivery]:
    attributes = event_attributes(event)
    subscriptions = [s for s in await repos.subscriptions.matching(event.ce_type)
                     if s.matches(event.ce_type, attributes)]
    if not subscriptions:
        return []
    agencies = await repos.agencies.get_many({s.agency_id for s in subscriptions})
    payloads: dict[bool, str] = {}
    deliveries = []
    for sub in subscriptions:
        agency = agencies.get(sub.agency_id) or Agency.default(sub.agency_id)
        if not agency.may_receive(attributes):
            continue  # another agency's private event
        entitled = agency.personal_data
        if entitled not in payloads:
            payloads[entitled] = structured(event, redact(event.data(), entitled=entitled))
        deliveries.append(Delivery.fan_out(sub, event, payloads[entitled], now))
    return deliveries
