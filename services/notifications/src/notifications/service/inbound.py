"""Use case: the events of one fetch in → the case files and the contact directory updated,
the messages they cause accepted, the partner agencies' deliveries fanned out, each case's
events in the order they happened; all in one transaction with the processed-event
markers, so a redelivered event has no second effect."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from contracts import Event, topic_for_type
from notifications.domain import (
    Agency,
    CaseFile,
    Channel,
    Contact,
    Delivery,
    DomainError,
    Message,
    Parked,
    Rules,
    Subscription,
    Target,
    event_attributes,
    messages_for,
    notices_for,
    redact,
)
from notifications.ports import Claimed, Repositories
from notifications.service.events import structured
from servicekit.clock import Clock
from servicekit.ports import Tx, UnitOfWork
from servicekit.readcache import ReadCache

CONSUMER = "notifications"
log = logging.getLogger(__name__)


def _nothing() -> None:
    return None


Directory = ReadCache[tuple[str | None, ...], Any]
"""Subscriptions by event type, agencies, contacts and staff groups, read across fetches (see
:class:`servicekit.readcache.ReadCache`): keys ``("subs", type)``, ``("agency", id)``,
``("contact", id)``, ``("staff", role, department)``."""


class Inbound:
    """``handle_many`` the events of one fetch (``handle`` one). ``on_new_work`` is called
    after a commit that accepted messages or deliveries (it wakes the dispatchers);
    ``trace_id`` gives the current trace, recorded with each message (``event_trace``: the
    event's own, in a batch)."""

    def __init__(self, *, uow: UnitOfWork[Repositories], rules: Rules, clock: Clock,
                 trace_id: Callable[[], str | None] = _nothing, on_new_work: Callable[[], None] = _nothing,
                 event_trace: Callable[[str, str | None], str | None] = lambda _event_id, current: current,
                 hand_over: Callable[[list[Message], str], None] | None = None,
                 directory: Directory | None = None,
                 hand_over_deliveries: Callable[[list[Delivery], str], None] | None = None,
                 delivery_claim: timedelta = timedelta(seconds=60)) -> None:
        """``event_trace(event_id, current)``: the trace an event of the batch came with.
        ``directory``: subscriptions, agencies, contacts and staff groups kept across fetches
        (the service's own writes bump it; none: read in every fetch).
        ``hand_over_deliveries(deliveries, token)``: the same for the webhook deliveries due
        now, claimed for ``delivery_claim``.
        ``hand_over(messages, token)``: the messages due now, inserted already claimed by
        ``token`` (for ``rules.retry.claim_seconds``), go straight to the dispatcher after the
        commit (no claim of their own); without it the dispatcher claims them when woken."""
        self.uow, self.rules, self.clock = uow, rules, clock
        self.trace_id, self.on_new_work, self.event_trace = trace_id, on_new_work, event_trace
        self.hand_over = hand_over
        self.directory = directory if directory is not None else ReadCache(0)
        self.hand_over_deliveries, self.delivery_claim = hand_over_deliveries, delivery_claim

    async def handle(self, event: Event) -> list[Message]:
        """One event (see :meth:`handle_many`); a domain error is raised. Returns the messages
        accepted (none for an event handled before or parked; those of the parked events it
        released come after its own)."""
        return (await self._handle([event], refused=None)).messages

    async def handle_many(self, events: list[Event]) -> dict[int, str]:
        """Tell applicants, staff and subscribed partner agencies about the events of one
        fetch, in ONE transaction with their markers (a redelivered event has no second
        effect): cases, contacts and subscriptions read once, messages and deliveries
        inserted together. In each case's order: an event ahead of a missing predecessor is
        parked (``rules.order_hold`` at most) and handled after it. Returns ``{index:
        reason}`` for the events refused for good (dead-lettered)."""
        refused: dict[int, str] = {}
        await self._handle(events, refused=refused)
        return refused

    async def _handle(self, events: list[Event], refused: dict[int, str] | None) -> _Batch:
        now, trace_id = self.clock.now(), self.trace_id()

        async def work(tx: Tx[Repositories], fresh: list[Event]) -> _Batch:
            batch = _Batch(tx.repos, self.directory, claim=self._claim(now), delivery_claim=self._delivery_claim(now))
            if refused is not None:
                refused.clear()  # a retried transaction starts again
            await batch.preload(fresh)
            todo = {e.event_id for e in fresh}
            for i, event in enumerate(events):
                if event.event_id not in todo:
                    continue
                todo.discard(event.event_id)
                case = await batch.case(event.case_number)
                if not case.order.arrive(event.source, event.case_seq, now):
                    case.order.park(event.source, event.case_seq or 0, event.ce_type, event.model_dump(mode="json"),
                                    now, self.rules.order_hold)
                    continue
                try:
                    await self._in_order(batch, case, event, now, trace_id)
                except DomainError as exc:
                    if refused is None:
                        raise
                    refused[i] = f"{type(exc).__name__}: {exc}"
            await batch.flush()
            return batch

        batch = await self.uow.consume(CONSUMER, events, work)
        if self.hand_over is not None and batch.claimed is not None and batch.claimed.ids:
            self.hand_over([m for m in batch.messages if m.message_id in batch.claimed.ids], batch.claimed.token)
        taken = batch.claimed_deliveries
        if self.hand_over_deliveries is not None and taken is not None and taken.ids:
            self.hand_over_deliveries([d for d in batch.deliveries if d.delivery_id in taken.ids], taken.token)
        if batch.messages or batch.deliveries:
            self.on_new_work()
        return batch

    def _claim(self, now: datetime) -> tuple[str, datetime, datetime] | None:
        if self.hand_over is None:
            return None
        return uuid.uuid4().hex, now, now + timedelta(seconds=self.rules.retry.claim_seconds)

    def _delivery_claim(self, now: datetime) -> tuple[str, datetime, datetime] | None:
        if self.hand_over_deliveries is None:
            return None
        return uuid.uuid4().hex, now, now + self.delivery_claim

    async def release_held(self, limit: int = 100) -> int:
        """Handle the parked events whose hold ran out (a worker's pass), in order, the gaps
        recorded; the cases of one pass in one transaction: how many cases."""
        now, trace_id = self.clock.now(), self.trace_id()
        cases = await self.uow.read(lambda repos: repos.cases.held(now, limit))
        if not cases:
            return 0

        async def work(tx: Tx[Repositories]) -> _Batch:
            batch = _Batch(tx.repos, self.directory)
            for number in cases:
                await self._in_order(batch, await batch.case(number), None, now, trace_id)
            await batch.flush()
            return batch

        batch = await self.uow.run(work)
        if batch.messages or batch.deliveries:
            self.on_new_work()
        return len(cases)

    async def _in_order(self, batch: _Batch, case: CaseFile, event: Event | None, now: datetime,
                        trace_id: str | None) -> None:
        """``event`` (if any), then every parked event of its case now ready, in order."""
        gaps = len(case.order.gaps)
        if event is not None:
            await self._record(batch, case, event, now, trace_id)
        while (parked := case.order.next_ready(now)) is not None:
            try:
                await self._record(batch, case, revive(parked), now, trace_id)
            except DomainError as exc:  # e.g. its applicant never became known: nobody to tell
                log.warning("case %s: parked event %s dropped: %s", case.case_number, parked.ce_type, exc)
        for gap in case.order.gaps[gaps:]:
            log.warning("case %s: events %d-%d of %s did not arrive within the hold; went on without them",
                        case.case_number, gap.first, gap.last, gap.source)

    async def _record(self, batch: _Batch, case: CaseFile, event: Event, now: datetime,
                      trace_id: str | None) -> None:
        """One event's effects, added to the batch only if all of it could be planned."""
        case.learn(event, now)
        phone, applicant = getattr(event, "applicant_phone", None), getattr(event, "applicant_id", None)
        if phone and applicant:
            await batch.contacts.learn_phone(applicant, phone, now)
        messages: list[Message] = []
        for notice in notices_for(event, case):
            recipients = await batch.contacts.resolve(notice.target)
            messages += messages_for(notice, recipients, event, self.rules, now,
                                     self.event_trace(event.event_id, trace_id))
        batch.messages += messages
        batch.deliveries += await batch.fan_out(event, now)


class _Batch:
    """What one transaction read (cases, contacts, subscriptions, agencies: each once, the last
    three from the directory kept across fetches when fresh) and what it will write (messages
    and deliveries inserted together, each case saved once)."""

    def __init__(self, repos: Repositories, directory: Directory,
                 claim: tuple[str, datetime, datetime] | None = None,
                 delivery_claim: tuple[str, datetime, datetime] | None = None) -> None:
        """``claim`` = (token, now, until): the messages due now are inserted claimed;
        ``delivery_claim``: the same for the webhook deliveries."""
        self.repos, self.directory, self.claim, self.delivery_claim = repos, directory, claim, delivery_claim
        self.claimed_deliveries: Claimed | None = None
        self.generation = directory.generation  # what is read from here on may be kept unless bumped meanwhile
        self.claimed: Claimed | None = None
        self.contacts = _ContactCache(repos, directory, self.generation)
        self.cases: dict[str, CaseFile] = {}
        self.subscriptions: dict[str, list[Subscription]] = {}
        self.agencies: dict[str, Agency | None] = {}
        self.messages: list[Message] = []
        self.deliveries: list[Delivery] = []

    async def preload(self, events: list[Event]) -> None:
        """Read the case files of ``events`` and their applicants' contacts in two queries."""
        numbers = {e.case_number for e in events} - set(self.cases)
        if numbers:
            found = await self.repos.cases.get_many(numbers)
            self.cases.update({n: found.get(n) or CaseFile(n) for n in numbers})
        people = {p for e in events if (p := getattr(e, "applicant_id", None))}
        people |= {c.applicant_id for c in self.cases.values() if c.applicant_id}
        await self.contacts.preload(people)

    async def case(self, number: str) -> CaseFile:
        if number not in self.cases:
            self.cases[number] = await self.repos.cases.get(number) or CaseFile(number)
        return self.cases[number]

    async def fan_out(self, event: Event, now: datetime) -> list[Delivery]:
        if event.ce_type not in self.subscriptions:
            kept = self.directory.get(("subs", event.ce_type))
            if kept is None:
                kept = await self.repos.subscriptions.matching(event.ce_type)
                self.directory.put(("subs", event.ce_type), kept, self.generation)
            self.subscriptions[event.ce_type] = kept
        attributes = event_attributes(event)
        subscriptions = [s for s in self.subscriptions[event.ce_type] if s.matches(event.ce_type, attributes)]
        if not subscriptions:
            return []
        unknown: set[str] = set()
        for a in {s.agency_id for s in subscriptions} - set(self.agencies):
            if (kept := self.directory.get(("agency", a))) is not None:
                self.agencies[a] = kept
            else:
                unknown.add(a)
        if unknown:
            found = await self.repos.agencies.get_many(unknown)
            self.agencies.update({a: found.get(a) for a in unknown})
            # an agency with no record has the default entitlements; only operators write them (here: a bump)
            self.directory.put_many({("agency", a): found.get(a) or Agency.default(a) for a in unknown},
                                    self.generation)
        payloads: dict[bool, str] = {}
        deliveries = []
        for sub in subscriptions:
            agency = self.agencies.get(sub.agency_id) or Agency.default(sub.agency_id)
            if not agency.may_receive(attributes):
                continue  # another agency's private event
            entitled = agency.personal_data
            if entitled not in payloads:
                payloads[entitled] = structured(event, redact(event.data(), entitled=entitled))
            deliveries.append(Delivery.fan_out(sub, event, payloads[entitled], now))
        return deliveries

    async def flush(self) -> None:
        if self.claim is not None:
            token, now, until = self.claim
            self.claimed = Claimed(token, until, frozenset(m.message_id for m in self.messages if m.is_due(now)))
        if self.messages:
            await self.repos.messages.add_many(self.messages, self.claimed)
        if self.delivery_claim is not None:
            token, now, until = self.delivery_claim
            self.claimed_deliveries = Claimed(token, until, frozenset(
                d.delivery_id for d in self.deliveries if d.is_due(now)))
        if self.deliveries:
            await self.repos.deliveries.add_many(self.deliveries, self.claimed_deliveries)
        await self.repos.cases.save_many(list(self.cases.values()))


def revive(parked: Parked) -> Event:
    """A parked event as it arrived."""
    return topic_for_type(parked.ce_type).event.model_validate(parked.payload)


class _ContactCache:
    """Contacts read once per transaction (from the directory when fresh there: a copy, as
    the transaction may change it); targets resolved to people (or their group). A person
    not in the database is not kept across fetches: another replica may learn them at any
    moment."""

    def __init__(self, repos: Repositories, directory: Directory, generation: int) -> None:
        self.repos, self.directory, self.generation = repos, directory, generation
        self.people: dict[str, Contact] = {}
        self.kept: set[str] = set()  # people whose contact came from the directory
        self.groups: dict[tuple[str, str | None], list[Contact]] = {}

    async def preload(self, person_ids: set[str]) -> None:
        ids: set[str] = set()
        for p in person_ids - set(self.people):
            if (kept := self.directory.get(("contact", p))) is not None:
                self.people[p] = dataclasses.replace(kept)
                self.kept.add(p)
            else:
                ids.add(p)
        if ids:
            found = await self.repos.contacts.get_many(ids)
            self.directory.put_many({("contact", p): dataclasses.replace(c) for p, c in found.items()},
                                    self.generation)
            self.people.update({p: found.get(p) or Contact(p) for p in ids})

    async def person(self, person_id: str) -> Contact:
        if person_id not in self.people:
            await self.preload({person_id})
        return self.people[person_id]

    async def learn_phone(self, person_id: str, phone: str, now: datetime) -> None:
        """A phone number seen in an event, written if it changes the contact. A contact that
        came from the directory is read again from the database before it is written: a
        write must not rest on a value kept from earlier (another replica may have set the
        person's preferences meanwhile)."""
        contact = await self.person(person_id)
        if not dataclasses.replace(contact).learn_phone(phone, now):
            return
        if person_id in self.kept:
            self.kept.discard(person_id)
            contact = self.people[person_id] = await self.repos.contacts.get(person_id) or Contact(person_id)
            if not contact.learn_phone(phone, now):
                return
        else:
            contact.learn_phone(phone, now)
        self.directory.drop(("contact", person_id))
        await self.repos.contacts.save(contact)

    async def resolve(self, target: Target) -> list[Contact]:
        if target.kind == "person":
            return [await self.person(target.key)]
        role, department = ("reviewer", target.key) if target.kind == "reviewers" else ("supervisor", None)
        if (role, department) not in self.groups:
            kept = self.directory.get(("staff", role, department))
            if kept is None:
                kept = await self.repos.contacts.staff(role, department)
                self.directory.put(("staff", role, department), kept, self.generation)
            self.groups[role, department] = kept
        staff = self.groups[role, department]
        # Nobody registered: one message to the group's push topic, so it is not lost.
        return staff or [Contact(target.group_id, role="group", channels=(Channel.APP_PUSH,))]
