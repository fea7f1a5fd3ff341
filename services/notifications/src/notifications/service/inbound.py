"""Use cases around incoming events and recipients: an event in → the case file and the
contact directory updated, the messages it causes accepted, the partner agencies'
deliveries fanned out; all in one transaction with the processed-event marker."""

from __future__ import annotations

from datetime import datetime

from contracts import Event
from notifications.domain import (
    Agency,
    CaseFile,
    Channel,
    Contact,
    Delivery,
    Message,
    NotFound,
    Rules,
    Target,
    cloudevent_json,
    event_attributes,
    messages_for,
    notices_for,
)
from notifications.ports import Tx, UnitOfWork

CONSUMER = "notifications"


async def handle_event(event: Event, *, uow: UnitOfWork, rules: Rules, now: datetime,
                       trace_id: str | None) -> list[Message] | None:
    """Record what ``event`` causes; a redelivered event has no second effect (returns None)."""

    async def work(tx: Tx) -> list[Message]:
        await tx.mark_processed(CONSUMER, event.event_id)
        case = await tx.cases.get(event.case_number) or CaseFile(event.case_number)
        if case.learn(event, now):
            await tx.cases.save(case)
        contacts = _ContactCache(tx)
        phone, applicant = getattr(event, "applicant_phone", None), getattr(event, "applicant_id", None)
        if phone and applicant and (contact := await contacts.person(applicant)).learn_phone(phone, now):
            await tx.contacts.save(contact)
        messages: list[Message] = []
        for notice in notices_for(event, case):
            recipients = await contacts.resolve(notice.target)
            messages += messages_for(notice, recipients, event, rules, now, trace_id)
        if messages:
            await tx.messages.add_many(messages)
        deliveries = await _fan_out(tx, event, now)
        if deliveries:
            await tx.deliveries.add_many(deliveries)
        return messages

    return await uow.run(work)


class _ContactCache:
    """Contacts read once per transaction; targets resolved to people (or their group)."""

    def __init__(self, tx: Tx) -> None:
        self.tx, self.people = tx, dict[str, Contact]()

    async def person(self, person_id: str) -> Contact:
        if person_id not in self.people:
            self.people[person_id] = await self.tx.contacts.get(person_id) or Contact(person_id)
        return self.people[person_id]

    async def resolve(self, target: Target) -> list[Contact]:
        if target.kind == "person":
            return [await self.person(target.key)]
        role, department = ("reviewer", target.key) if target.kind == "reviewers" else ("supervisor", None)
        staff = await self.tx.contacts.staff(role, department)
        # Nobody registered: one message to the group's push topic, so it is not lost.
        return staff or [Contact(target.group_id, role="group", channels=(Channel.APP_PUSH,))]


async def _fan_out(tx: Tx, event: Event, now: datetime) -> list[Delivery]:
    attributes = event_attributes(event)
    subscriptions = [s for s in await tx.subscriptions.matching(event.ce_type) if s.matches(event.ce_type, attributes)]
    if not subscriptions:
        return []
    agencies = await tx.agencies.get_many({s.agency_id for s in subscriptions})
    payloads: dict[bool, str] = {}
    deliveries = []
    for sub in subscriptions:
        agency = agencies.get(sub.agency_id) or Agency.default(sub.agency_id)
        if not agency.may_receive(attributes):
            continue  # another agency's private event
        entitled = agency.personal_data
        if entitled not in payloads:
            payloads[entitled] = cloudevent_json(event, entitled=entitled)
        deliveries.append(Delivery.fan_out(sub, event, payloads[entitled], now))
    return deliveries


# -- reading messages -------------------------------------------------------------------------
async def messages_for_case(*, uow: UnitOfWork, case_number: str) -> list[Message]:
    async def work(tx: Tx) -> list[Message]:
        return await tx.messages.for_case(case_number)

    return await uow.read(work) or []


async def get_message(*, uow: UnitOfWork, message_id: str, visible_to: list[str] | None) -> Message:
    """One message; ``visible_to`` (recipient ids) scopes an applicant's read, None for staff."""

    async def work(tx: Tx) -> Message | None:
        return await tx.messages.get(message_id)

    message = await uow.read(work)
    if message is None or (visible_to is not None and message.recipient_id not in visible_to):
        raise NotFound(f"no message {message_id}")
    return message


async def messages_for_recipients(*, uow: UnitOfWork, recipient_ids: list[str], limit: int = 100) -> list[Message]:
    async def work(tx: Tx) -> list[Message]:
        return await tx.messages.for_recipients(recipient_ids, limit)

    return await uow.read(work) or []


def inboxes(*, person_id: str, role: str, department: str | None) -> list[str]:
    """Recipient ids whose messages a person reads: their own and their group's."""
    ids = [person_id]
    if role == "reviewer" and department:
        ids.append(Target.reviewers(department).group_id)
    if role == "supervisor":
        ids.append(Target.supervisors().group_id)
    return ids


# -- preferences ------------------------------------------------------------------------------
async def get_preferences(*, uow: UnitOfWork, recipient_id: str) -> Contact:
    async def work(tx: Tx) -> Contact:
        return await tx.contacts.get(recipient_id) or Contact(recipient_id)

    return await uow.read(work)


async def set_preferences(*, uow: UnitOfWork, recipient_id: str, role: str, department: str | None,
                          channels: list[str], phone: str | None, email: str | None, wechat_openid: str | None,
                          quiet_hours: str | None, now: datetime) -> Contact:
    async def work(tx: Tx) -> Contact:
        contact = await tx.contacts.get(recipient_id) or Contact(recipient_id)
        contact.set_preferences(channels=channels, phone=phone, email=email, wechat_openid=wechat_openid,
                                quiet_hours=quiet_hours, role=role, department=department, now=now)
        await tx.contacts.save(contact)
        return contact

    return await uow.run(work)  # type: ignore[return-value]
