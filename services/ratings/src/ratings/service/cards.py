"""Use cases of the paper cards, the box opening, the tamper-evident log and the red/black list."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

from contracts.events import ratings as ev
from ratings.domain import (
    BoxOpening,
    Card,
    DomainError,
    Forbidden,
    Level,
    NotFound,
    Publication,
    RankingRules,
    Reconciliation,
    Slot,
    Tally,
    Verification,
    Vote,
    Window,
    card_states,
    check_serial,
    classify,
    extend,
    facts,
    level_for,
    rank,
    reconcile,
    serial_range,
    verify,
)
from ratings.ports import MonthResult, Repositories
from ratings.service.common import EVENTS, require, supervising
from servicekit.clock import Clock
from servicekit.ports import Tx, UnitOfWork
from servicekit.principal import Principal, Role

HALL = (Role.WINDOW_STAFF, Role.SUPERVISOR, Role.OPERATOR)
T = TypeVar("T")


class Entry(NamedTuple):
    serial: str
    slot: Slot
    level: Level | None


class ChainCheck(NamedTuple):
    verification: Verification
    cards_checked: int
    card_mismatches: list[str]  # "serial: what differs"

    @property
    def ok(self) -> bool:
        return self.verification.ok and not self.card_mismatches


def _emit(tx: Tx[Repositories], fact: facts.DomainEvent, subject: str, now: datetime) -> None:
    tx.emit([EVENTS.to_event(fact, subject=subject, now=now, correlation_id=subject)])


async def _chain(tx: Tx[Repositories], entries: list[tuple[str, str, dict[str, Any]]], now: datetime) -> str:
    head = await tx.repos.chain.head()
    records = extend(head, entries, now)
    await tx.repos.chain.append(head, records)
    return records[-1].hash if records else head[1]


async def _window(tx: Tx[Repositories], window_id: str) -> Window:
    """A window named in a request's body: unknown is an invalid field (422), not a missing resource."""
    try:
        return await tx.repos.windows.get(window_id)
    except NotFound as exc:
        raise DomainError(f"no window {window_id}", field="window_id", rule="unknown_reference") from exc


async def _month_open(tx: Tx[Repositories], months: set[str]) -> None:
    """Cards of a month whose box opening is final do not change any more."""
    for month in sorted(months):
        try:
            box = await tx.repos.boxes.get(month)
        except NotFound:
            continue
        box.ensure_open()


def _serials(serials: Sequence[str]) -> list[str]:
    out = []
    for i, s in enumerate(serials):
        try:
            out.append(check_serial(s))
        except DomainError as exc:
            exc.field = f"serials.{i}"
            raise
    return out


class Cards:
    """Every use case here appends to the one hash chain, whose head is one document: they run
    one at a time in this process (``_log``), so concurrent requests queue instead of
    conflicting on the head; replicas still conflict and are retried by the unit of work."""

    def __init__(self, *, uow: UnitOfWork[Repositories], clock: Clock, rules: RankingRules) -> None:
        self.uow, self.clock, self.rules = uow, clock, rules
        self._log = asyncio.Lock()

    async def _logged(self, work: Callable[[Tx[Repositories]], Awaitable[T]]) -> T:
        async with self._log:
            return await self.uow.run(work)

    # -- the day -------------------------------------------------------------------------------
    async def issue(self, caller: Principal, *, day: str, window_id: str, staff_id: str, first: str,
                    count: int) -> list[Card]:
        """Before opening: a range of cards to a window's staff member (recorded in the log)."""
        require(caller, *HALL)
        try:
            serials = serial_range(first, count)
        except DomainError as exc:
            exc.field = "first" if exc.field == "serial" else exc.field
            raise
        now = self.clock.now()

        async def work(tx: Tx[Repositories]) -> list[Card]:
            window = await _window(tx, window_id)
            await _month_open(tx, {day[:7]})
            if staff_id not in window.staff:
                raise DomainError(f"{staff_id} does not work at window {window_id}", field="staff_id",
                                  rule="roster_rule")
            cards = [Card(s, window_id, staff_id, day) for s in serials]
            await tx.repos.cards.add_many(cards)
            await _chain(tx, [("card.issued", f"{serials[0]}..{serials[-1]}",
                               {"serials": serials, "window_id": window_id, "staff_id": staff_id, "day": day,
                                "by": caller.sub})], now)
            return cards

        return await self._logged(work)

    async def _move(self, caller: Principal, serials: Sequence[str], kind: str, slot: Slot | None = None) -> list[Card]:
        require(caller, *HALL)
        wanted = _serials(serials)
        now = self.clock.now()

        async def work(tx: Tx[Repositories]) -> list[Card]:
            cards = await tx.repos.cards.get_many(wanted)
            await _month_open(tx, {c.month for c in cards.values()})
            changed = []
            for i, s in enumerate(wanted):
                card = cards.get(s)
                if card is None:
                    raise DomainError(f"card {s} was never issued", field=f"serials.{i}", rule="unknown_reference")
                moved = card.drop(slot) if slot else card.give_back() if kind == "card.returned" else card.void()
                if moved:
                    changed.append(card)
            if changed:
                await tx.repos.cards.save_many(changed)
                data: dict[str, Any] = {"serials": [c.serial for c in changed], "by": caller.sub}
                if slot:
                    data["slot"] = slot.value
                await _chain(tx, [(kind, f"{changed[0].serial}..{changed[-1].serial}", data)], now)
            return [cards[s] for s in wanted]

        return await self._logged(work)

    async def drop(self, caller: Principal, serials: Sequence[str], slot: Slot) -> list[Card]:
        """Cards dropped in the good or bad slot of the box (投币式评价箱), recorded by serial."""
        return await self._move(caller, serials, "card.dropped", slot)

    async def give_back(self, caller: Principal, serials: Sequence[str]) -> list[Card]:
        return await self._move(caller, serials, "card.returned")

    async def void(self, caller: Principal, serials: Sequence[str]) -> list[Card]:
        return await self._move(caller, serials, "card.voided")

    async def reconcile(self, caller: Principal, *, day: str, window_id: str) -> Reconciliation:
        """Before closing: issued = used + returned + void, or an alarm naming the missing cards
        (once per distinct result: asking again changes nothing)."""
        require(caller, *HALL)
        now = self.clock.now()

        async def work(tx: Tx[Repositories]) -> Reconciliation:
            await _window(tx, window_id)
            rec = reconcile(day, window_id, await tx.repos.cards.of_day(day, window_id))
            if await tx.repos.cards.put_reconciliation(rec, now) and not rec.balanced:
                _emit(tx, facts.CardDayMismatch(day=day, window_id=window_id, issued=rec.issued, used=rec.used,
                                                returned=rec.returned, void=rec.void, missing=list(rec.missing)),
                      day[:7], now)
            return rec

        return await self.uow.run(work)

    async def day_report(self, day: str) -> list[Reconciliation]:
        return await self.uow.read(lambda repos: repos.cards.reconciliations(day))

    # -- the month's box opening ---------------------------------------------------------------------
    async def open_box(self, caller: Principal, month: str) -> BoxOpening:
        if not supervising(caller):
            raise Forbidden("the supervisors open a month's count")
        now = self.clock.now()

        async def work(tx: Tx[Repositories]) -> BoxOpening:
            try:
                return await tx.repos.boxes.get(month)
            except NotFound:
                box = BoxOpening(month, caller.sub, now)
                await tx.repos.boxes.add(box)
                return box

        return await self.uow.run(work)

    async def count(self, caller: Principal, month: str, *, window_id: str, entries: Sequence[Entry]) -> list[Vote]:
        """Votes of one window's box, entered or scanned by serial: counted, or flagged and not
        counted (never issued, already counted, another period, another window)."""
        require(caller, Role.SUPERVISOR, Role.OVERSIGHT, Role.OPERATOR)
        serials = _serials([e.serial for e in entries])
        levels = [level_for(e.slot, e.level) for e in entries]
        now = self.clock.now()

        async def work(tx: Tx[Repositories]) -> list[Vote]:
            box = await tx.repos.boxes.get(month)
            box.ensure_open()
            await _window(tx, window_id)
            cards = await tx.repos.cards.get_many(serials)
            counted = await tx.repos.boxes.counted(month, serials)
            votes = []
            for s, level in zip(serials, levels, strict=True):
                vote = classify(s, month=month, window_id=window_id, card=cards.get(s), counted_before=s in counted,
                                level=level)
                if vote.counted:
                    counted.add(s)
                votes.append(vote)
            await tx.repos.boxes.add_votes(month, votes, now)
            await _chain(tx, [("box.counted", month, {"window_id": window_id, "by": caller.sub, "votes": [
                {"serial": v.serial, "level": v.level.value, "flag": v.flag.value if v.flag else None}
                for v in votes]})], now)
            return votes

        return await self._logged(work)

    async def sign(self, caller: Principal, month: str) -> BoxOpening:
        """An oversight body signs the month's count; the third distinct one makes it final,
        with the log's head, and the month's result is fixed."""
        now = self.clock.now()

        async def work(tx: Tx[Repositories]) -> BoxOpening:
            box = await tx.repos.boxes.get(month)
            head = await tx.repos.chain.head()
            box.sign(body=caller.department, account=caller.sub, is_oversight=caller.role is Role.OVERSIGHT,
                     now=now, chain_head=head[1])
            chain_head = await _chain(tx, [("box.signed", month, {"body": caller.department, "account": caller.sub,
                                                                  "final": box.final})], now)
            if box.final:
                online, paper = await tx.repos.stats.count_online(month), await tx.repos.stats.count_paper(month)
                result = MonthResult(month, online, paper, chain_head, [s.account for s in box.sign_offs])
                await tx.repos.lists.add_result(result)
                _emit(tx, facts.MonthFinalised(month=month, online=online, paper=paper, chain_head=chain_head,
                                               signed_by=result.signed_by), month, now)
            await tx.repos.boxes.save(box)
            return box

        return await self._logged(work)

    async def box(self, month: str) -> tuple[BoxOpening, list[Vote], MonthResult | None]:
        async def read(repos: Repositories) -> tuple[BoxOpening, list[Vote], MonthResult | None]:
            return await repos.boxes.get(month), await repos.boxes.flagged(month), await repos.lists.result(month)

        return await self.uow.read(read)

    # -- the red and black list ----------------------------------------------------------------------
    async def publish(self, caller: Principal, month: str, *, display_from: datetime | None,
                      display_days: int) -> Publication:
        """From the month's final results (online and paper), ranked by the configured rules;
        immutable once written."""
        if not supervising(caller):
            raise Forbidden("the supervisors publish the red and black list")
        now = self.clock.now()

        async def work(tx: Tx[Repositories]) -> Publication:
            result = await tx.repos.lists.result(month)
            units: dict[tuple[str, str], Tally] = {}
            for kind in ("window", "staff"):
                online, paper = await tx.repos.stats.online(month, kind), await tx.repos.stats.paper(month, kind)
                for uid in online.keys() | paper.keys():
                    units[(kind, uid)] = online.get(uid, Tally()).merge(paper.get(uid, Tally()))
            names: dict[tuple[str, str], str] = {}
            for w in await tx.repos.windows.all():
                names[("window", w.window_id)] = w.name
                for s in w.staff:
                    names[("staff", s)] = w.name_of(s)
            red, black = rank(units, names, self.rules)
            pub = Publication.make(month=month, final=result is not None, display_from=display_from or now,
                                   display_days=display_days, red=red, black=black, by=caller.sub, now=now,
                                   chain_head=result.chain_head if result else "")
            await tx.repos.lists.add(pub)
            tx.emit([ev.ListPublishedV1(
                source=EVENTS.source, subject=month, case_number=month, time=now, correlation_id=month,
                month=month, display_from=pub.display_from, display_until=pub.display_until,
                red=[ev.ListedUnit(**asdict(r)) for r in red], black=[ev.ListedUnit(**asdict(r)) for r in black])])
            return pub

        return await self.uow.run(work)

    async def on_display(self) -> list[Publication]:
        now = self.clock.now()
        return await self.uow.read(lambda repos: repos.lists.on_display(now))

    async def publication(self, month: str) -> Publication:
        return await self.uow.read(lambda repos: repos.lists.get(month))

    # -- verification ----------------------------------------------------------------------------------
    async def verify(self) -> ChainCheck:
        """Recompute the log (each record's hash and link, no gap, the head) and compare every
        stored card with the state the log gives it: an edited record is named."""

        async def read(repos: Repositories) -> ChainCheck:
            records = await repos.chain.all()
            head = await repos.chain.head()
            verification = verify(records, expected_head=head)
            states = card_states(records)
            cards = await repos.cards.all()
            mismatches = []
            for card in cards:
                logged = states.get(card.serial)
                stored = {"window_id": card.window_id, "staff_id": card.staff_id, "day": card.day,
                          "status": card.status.value, "slot": card.slot.value if card.slot else None}
                if logged is None:
                    mismatches.append(f"{card.serial}: not in the log")
                elif logged != stored:
                    diff = ", ".join(f"{k} {stored[k]!r} (log: {logged[k]!r})" for k in stored if stored[k] != logged[k])
                    mismatches.append(f"{card.serial}: {diff}")
            for serial in states.keys() - {c.serial for c in cards}:
                mismatches.append(f"{serial}: in the log, not stored (deleted)")
            return ChainCheck(verification, len(cards), sorted(mismatches))

        return await self.uow.read(read)

