"""Use case: an event in → the case file and the contact directory updated, the messages
it causes accepted, the partner agencies' deliveries fanned out; all in one transaction
with the processed-event marker, so a redelivered event has no second effect."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from contracts import Event
from notifications.domain import (
    Agency,
    CaseFile,
    Channel,
    Contact,
    Delivery,
    Message,
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
        """Tell applicants, staff and subscribed partner agencies about a registration event.
        Returns the messages accepted (none for an event handled before)."""
        now, trace_id = self.clock.now(), self.trace_id()

        async def work(tx: Tx[Repositories], fresh: list[Event]) -> tuple[list[Message], list[Delivery]]:
            return await self._record(tx.repos, event, now, trace_id) if fresh else ([], [])

        messages, deliveries = await self.uow.consume(CONSUMER, [event], work)
        if messages or deliveries:
            self.on_new_work()
        return messages

    async def _record(self, repos: Repositories, event: Event, now: datetime,
                      trace_id: str | None) -> tuple[list[Message], list[Delivery]]:
        case = await repos.cases.get(event.case_number) or CaseFile(event.case_number)
        if case.learn(event, now):
            await repos.cases.save(case)
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
