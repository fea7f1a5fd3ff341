"""MongoDB adapters of the ports (MongoRepositories satisfies ports.Repositories): the only module that
imports pymongo; ``_id`` and documents never leave it. Month figures are aggregations ($group),
card ranges and votes bulk writes: SecantusDB is slow per operation."""

from __future__ import annotations

import os
import secrets
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from ratings.domain import (
    GENESIS,
    Annulled,
    BoxOpening,
    Card,
    CardStatus,
    ChainRecord,
    Conflict,
    EntryStatus,
    Flag,
    LedgerEntry,
    Level,
    NotFound,
    Publication,
    Ranked,
    RateableCase,
    Rating,
    Reconciliation,
    Request,
    RequestKind,
    SignOff,
    Slot,
    Tally,
    Vote,
    Window,
    day_of,
    month_of,
)
from ratings.ports import MonthResult
from servicekit.aggregate import ConcurrentUpdate
from servicekit.mongo import save_versioned
from servicekit.timers import SessionTimers

CASES, WINDOWS, CARDS, CARD_DAYS, CHAIN, HEAD = "rateables", "windows", "cards", "card_days", "chain", "chain_head"
BOXES, VOTES, LEDGER, REQUESTS, LISTS, RESULTS, KEYS, TALLIES = (
    "boxes", "votes", "ledger", "requests", "lists", "month_results", "keys", "tallies")
BY_FIELD = {"window": "window_id", "staff": "staff_id", "department": "department", "matter": "matter",
            "month": "month"}


async def ensure_indexes(db: AsyncDatabase[Any]) -> None:
    await db[CASES].create_indexes([IndexModel([("month", ASCENDING), ("rated", ASCENDING)], name="month_rated")])
    await db[WINDOWS].create_indexes([IndexModel([("staff", ASCENDING)], name="staff")])
    await db[CARDS].create_indexes([IndexModel([("day", ASCENDING), ("window_id", ASCENDING)], name="day_window")])
    await db[CARD_DAYS].create_indexes([IndexModel([("day", ASCENDING)], name="day")])
    await db[VOTES].create_indexes([IndexModel([("month", ASCENDING), ("counted", ASCENDING)], name="month_counted")])
    await db[LEDGER].create_indexes([
        IndexModel([("case_number", ASCENDING)], name="case"), IndexModel([("owner_id", ASCENDING)], name="owner"),
        IndexModel([("month", ASCENDING)], name="month")])
    await db[REQUESTS].create_indexes([IndexModel([("month", ASCENDING)], name="month")])
    await db[LISTS].create_indexes([IndexModel([("display_until", ASCENDING)], name="until")])
    await db[TALLIES].create_indexes([IndexModel([("source", ASCENDING), ("month", ASCENDING)], name="source_month")])


@dataclass(frozen=True)
class MongoRepositories:
    cases: MongoCases
    windows: MongoWindows
    cards: MongoCards
    chain: MongoChain
    boxes: MongoBoxes
    ledger: MongoLedger
    requests: MongoRequests
    lists: MongoLists
    stats: MongoStats
    keys: MongoKeys
    timers: SessionTimers

    @classmethod
    def bind(cls, db: AsyncDatabase[Any], session: AsyncClientSession | None) -> MongoRepositories:
        return cls(MongoCases(db, session), MongoWindows(db, session), MongoCards(db, session),
                   MongoChain(db, session), MongoBoxes(db, session), MongoLedger(db, session),
                   MongoRequests(db, session), MongoLists(db, session), MongoStats(db, session),
                   MongoKeys(db, session), SessionTimers(db, session))


class _Repo:
    def __init__(self, db: AsyncDatabase[Any], session: AsyncClientSession | None) -> None:
        self.db, self.session = db, session


async def _replace(coll: Any, key: str, doc: dict[str, Any], agg: Any, session: AsyncClientSession | None) -> None:
    doc["version"] = agg.version + 1
    res = await coll.replace_one({"_id": key, "version": agg.version}, doc, session=session)
    if res.matched_count != 1:
        raise ConcurrentUpdate(f"{key} changed meanwhile")
    agg.version += 1


# -- rateable cases ----------------------------------------------------------------------------------
def _rating_doc(r: Rating) -> dict[str, Any]:
    return {"level": r.level.value, "channel": r.channel, "indicators": r.indicators, "comment": r.comment,
            "rated_at": r.rated_at, "by": r.by}


def _rating(d: dict[str, Any]) -> Rating:
    return Rating(Level(d["level"]), d["channel"], d["indicators"], d.get("comment"), d["rated_at"], d["by"])


def _case_doc(c: RateableCase) -> dict[str, Any]:
    r = c.rating
    return {"_id": c.case_number, "source": c.source, "applicant_id": c.applicant_id, "matter": c.matter,
            "completed_at": c.completed_at, "window_id": c.window_id, "staff_id": c.staff_id,
            "department": c.department, "correlation_id": c.correlation_id, "token_id": c.token_id,
            "token_expires_at": c.token_expires_at, "rating": _rating_doc(r) if r else None, "rated": r is not None,
            "level": r.level.value if r else None, "month": month_of(r.rated_at) if r else None,
            "annulled": [{**_rating_doc(a.rating), "reason": a.reason, "reviewer_id": a.reviewer_id, "at": a.at}
                         for a in c.annulled], "version": c.version}


def _case(d: dict[str, Any]) -> RateableCase:
    return RateableCase(
        case_number=d["_id"], source=d["source"], applicant_id=d["applicant_id"], matter=d["matter"],
        completed_at=d["completed_at"], window_id=d.get("window_id"), staff_id=d.get("staff_id"),
        department=d.get("department"), correlation_id=d.get("correlation_id", d["_id"]), token_id=d["token_id"],
        token_expires_at=d.get("token_expires_at"), rating=_rating(d["rating"]) if d.get("rating") else None,
        annulled=[Annulled(_rating(a), a["reason"], a["reviewer_id"], a["at"]) for a in d.get("annulled", [])],
        version=d["version"])


class MongoCases(_Repo):
    async def add_new(self, cases: list[RateableCase]) -> list[RateableCase]:
        ids = [c.case_number for c in cases]
        have = {d["_id"] for d in await self.db[CASES].find({"_id": {"$in": ids}}, {"_id": 1},
                                                             session=self.session).to_list()}
        new = [c for c in cases if c.case_number not in have]
        for c in new:
            c.version = 1
        if new:
            await self.db[CASES].insert_many([_case_doc(c) for c in new], session=self.session)
        return new

    async def get(self, case_number: str) -> RateableCase:
        doc = await self.db[CASES].find_one({"_id": case_number}, session=self.session)
        if doc is None:
            raise NotFound(f"no rateable case {case_number}", field="case_number")
        return _case(doc)

    async def get_many(self, case_numbers: list[str]) -> dict[str, RateableCase]:
        docs = await self.db[CASES].find({"_id": {"$in": case_numbers}}, session=self.session).to_list()
        return {d["_id"]: _case(d) for d in docs}

    async def save(self, case: RateableCase) -> None:
        await _replace(self.db[CASES], case.case_number, _case_doc(case), case, self.session)

    async def save_many(self, cases: list[RateableCase]) -> None:
        await save_versioned(self.db[CASES], [(c.case_number, _case_doc(c), c) for c in cases], session=self.session,
                             what="rated cases")


# -- windows -------------------------------------------------------------------------------------------
def _window(d: dict[str, Any]) -> Window:
    return Window(d["_id"], d["name"], d.get("department"), d.get("staff", []), d.get("staff_names", {}),
                  d.get("owner_id"), d.get("version", 0), d.get("business", []))


class MongoWindows(_Repo):
    async def get(self, window_id: str) -> Window:
        doc = await self.db[WINDOWS].find_one({"_id": window_id}, session=self.session)
        if doc is None:
            raise NotFound(f"no window {window_id}", field="window_id")
        return _window(doc)

    async def put(self, window: Window) -> None:
        if window.staff:  # a staff member works at one window: taken off any other
            await self.db[WINDOWS].update_many({"_id": {"$ne": window.window_id}, "staff": {"$in": window.staff}},
                                               {"$pull": {"staff": {"$in": window.staff}}}, session=self.session)
        doc = {"name": window.name, "department": window.department, "staff": window.staff,
               "staff_names": window.staff_names, "owner_id": window.owner_id, "business": window.business}
        await self.db[WINDOWS].update_one({"_id": window.window_id}, {"$set": doc, "$inc": {"version": 1}},
                                          upsert=True, session=self.session)

    async def all(self) -> list[Window]:
        return [_window(d) for d in await self.db[WINDOWS].find({}, session=self.session).sort("_id").to_list()]

    async def of_staff(self, staff_id: str) -> Window | None:
        doc = await self.db[WINDOWS].find_one({"staff": staff_id}, session=self.session)
        return _window(doc) if doc else None


# -- cards -----------------------------------------------------------------------------------------------
def _card_doc(c: Card) -> dict[str, Any]:
    return {"_id": c.serial, "window_id": c.window_id, "staff_id": c.staff_id, "day": c.day, "month": c.month,
            "status": c.status.value, "slot": c.slot.value if c.slot else None}


def _card(d: dict[str, Any]) -> Card:
    return Card(d["_id"], d["window_id"], d["staff_id"], d["day"], CardStatus(d["status"]),
                Slot(d["slot"]) if d.get("slot") else None)


def _rec_doc(r: Reconciliation, at: datetime) -> dict[str, Any]:
    return {"_id": f"{r.day}:{r.window_id}", "day": r.day, "window_id": r.window_id, "issued": r.issued,
            "used": r.used, "returned": r.returned, "void": r.void, "missing": list(r.missing), "at": at}


class MongoCards(_Repo):
    async def add_many(self, cards: list[Card]) -> None:
        try:
            await self.db[CARDS].insert_many([_card_doc(c) for c in cards], session=self.session)
        except (BulkWriteError, DuplicateKeyError) as exc:
            raise Conflict("some of these cards were issued before", field="first") from exc

    async def get_many(self, serials: list[str]) -> dict[str, Card]:
        docs = await self.db[CARDS].find({"_id": {"$in": serials}}, session=self.session).to_list()
        return {d["_id"]: _card(d) for d in docs}

    async def save_many(self, cards: list[Card]) -> None:
        ops = [UpdateOne({"_id": c.serial}, {"$set": {"status": c.status.value, "slot": c.slot.value if c.slot else None}})
               for c in cards]
        await self.db[CARDS].bulk_write(ops, ordered=False, session=self.session)

    async def of_day(self, day: str, window_id: str) -> list[Card]:
        docs = await self.db[CARDS].find({"day": day, "window_id": window_id}, session=self.session).to_list()
        return [_card(d) for d in docs]

    async def all(self) -> list[Card]:
        return [_card(d) for d in await self.db[CARDS].find({}, session=self.session).to_list()]

    async def put_reconciliation(self, rec: Reconciliation, at: datetime) -> bool:
        doc = _rec_doc(rec, at)
        before = await self.db[CARD_DAYS].find_one({"_id": doc["_id"]}, session=self.session)
        same = before is not None and all(before.get(k) == doc[k] for k in ("issued", "used", "returned", "void",
                                                                            "missing"))
        if not same:
            await self.db[CARD_DAYS].replace_one({"_id": doc["_id"]}, doc, upsert=True, session=self.session)
        return not same

    async def reconciliations(self, day: str) -> list[Reconciliation]:
        docs = await self.db[CARD_DAYS].find({"day": day}, session=self.session).sort("_id").to_list()
        return [Reconciliation(d["day"], d["window_id"], d["issued"], d["used"], d["returned"], d["void"],
                               tuple(d["missing"])) for d in docs]


# -- the tamper-evident log ---------------------------------------------------------------------------
def _chain_record(d: dict[str, Any]) -> ChainRecord:
    return ChainRecord(d["_id"], d["kind"], d["subject"], d["data"], d["at"], d["prev"], d["hash"])


class MongoChain(_Repo):
    async def head(self) -> tuple[int, str]:
        doc = await self.db[HEAD].find_one({"_id": "head"}, session=self.session)
        return (doc["seq"], doc["hash"]) if doc else (0, GENESIS)

    async def append(self, head: tuple[int, str], records: list[ChainRecord]) -> None:
        if not records:
            return
        last = records[-1]
        try:
            res = await self.db[HEAD].update_one({"_id": "head", "seq": head[0]},
                                                 {"$set": {"seq": last.seq, "hash": last.hash}},
                                                 upsert=head[0] == 0, session=self.session)
        except DuplicateKeyError as exc:
            raise ConcurrentUpdate("the log moved on meanwhile") from exc
        if res.matched_count != 1 and res.upserted_id is None:
            raise ConcurrentUpdate("the log moved on meanwhile")
        await self.db[CHAIN].insert_many(
            [{"_id": r.seq, "kind": r.kind, "subject": r.subject, "data": r.data, "at": r.at, "prev": r.prev,
              "hash": r.hash} for r in records], session=self.session)

    async def all(self) -> list[ChainRecord]:
        docs = await self.db[CHAIN].find({}, session=self.session).sort("_id", ASCENDING).to_list()
        return [_chain_record(d) for d in docs]


# -- box opening ----------------------------------------------------------------------------------------
def _box_doc(b: BoxOpening) -> dict[str, Any]:
    return {"_id": b.month, "opened_by": b.opened_by, "opened_at": b.opened_at, "final": b.final,
            "sign_offs": [asdict(s) for s in b.sign_offs], "version": b.version}


class MongoBoxes(_Repo):
    async def get(self, month: str) -> BoxOpening:
        d = await self.db[BOXES].find_one({"_id": month}, session=self.session)
        if d is None:
            raise NotFound(f"the box of {month} has not been opened", field="month")
        return BoxOpening(d["_id"], d["opened_by"], d["opened_at"], [SignOff(**s) for s in d["sign_offs"]],
                          d["final"], d["version"])

    async def add(self, box: BoxOpening) -> None:
        box.version = 1
        await self.db[BOXES].insert_one(_box_doc(box), session=self.session)

    async def save(self, box: BoxOpening) -> None:
        await _replace(self.db[BOXES], box.month, _box_doc(box), box, self.session)

    async def counted(self, month: str, serials: list[str]) -> set[str]:
        docs = await self.db[VOTES].find({"_id": {"$in": [f"{month}:{s}" for s in serials]}}, {"serial": 1},
                                         session=self.session).to_list()
        return {d["serial"] for d in docs}

    async def add_votes(self, month: str, votes: list[Vote], at: datetime) -> None:
        docs = [{"_id": f"{month}:{v.serial}" if v.counted else f"{month}:{v.serial}:{uuid.uuid4().hex[:8]}",
                 "month": month, "serial": v.serial, "window_id": v.window_id, "staff_id": v.staff_id,
                 "level": v.level.value, "counted": v.counted, "flag": v.flag.value if v.flag else None, "at": at}
                for v in votes]
        if docs:
            try:
                await self.db[VOTES].insert_many(docs, session=self.session)
            except (BulkWriteError, DuplicateKeyError) as exc:
                raise ConcurrentUpdate("a card was counted meanwhile") from exc
            counted = [{**d, "source": "paper"} for d in docs if d["counted"]]
            if counted:
                await self.db[TALLIES].bulk_write(tally_increments(counted), ordered=False, session=self.session)

    async def flagged(self, month: str) -> list[Vote]:
        docs = await self.db[VOTES].find({"month": month, "counted": False}, session=self.session).to_list()
        return [Vote(d["serial"], d["window_id"], Level(d["level"]), False, Flag(d["flag"]), None) for d in docs]


# -- ledger and requests ----------------------------------------------------------------------------------
def _entry_doc(e: LedgerEntry) -> dict[str, Any]:
    doc = {k: v for k, v in e.__dict__.items() if not k.startswith("_") and k not in {"entry_id", "version"}}
    doc.update(_id=e.entry_id, status=e.status.value, called_back=e.called_back, version=e.version)
    return doc


def _entry(d: dict[str, Any]) -> LedgerEntry:
    fields = {k: v for k, v in d.items() if k not in {"_id", "called_back", "status"}}
    return LedgerEntry(entry_id=d["_id"], status=EntryStatus(d["status"]), **fields)


class MongoLedger(_Repo):
    async def add(self, entry: LedgerEntry) -> None:
        entry.version = 1
        await self.db[LEDGER].insert_one(_entry_doc(entry), session=self.session)

    async def add_many(self, entries: list[LedgerEntry]) -> None:
        for e in entries:
            e.version = 1
        if entries:
            await self.db[LEDGER].insert_many([_entry_doc(e) for e in entries], session=self.session)

    async def get(self, entry_id: str) -> LedgerEntry:
        d = await self.db[LEDGER].find_one({"_id": entry_id}, session=self.session)
        if d is None:
            raise NotFound(f"no ledger entry {entry_id}", field="entry_id")
        return _entry(d)

    async def save(self, entry: LedgerEntry) -> None:
        await _replace(self.db[LEDGER], entry.entry_id, _entry_doc(entry), entry, self.session)

    async def of_case(self, case_number: str) -> LedgerEntry | None:
        docs = await self.db[LEDGER].find({"case_number": case_number}, session=self.session).to_list()
        live = [_entry(d) for d in docs if d["status"] != EntryStatus.ANNULLED.value]
        return max(live, key=lambda e: e.opened_at) if live else None

    async def find(self, *, owner_id: str | None, status: str | None, month: str | None,
                   limit: int) -> list[LedgerEntry]:
        q: dict[str, Any] = {}
        if owner_id:
            q["owner_id"] = owner_id
        if status:
            q["status"] = status
        if month:
            q["month"] = month
        docs = await self.db[LEDGER].find(q, session=self.session).limit(limit).to_list()
        return sorted((_entry(d) for d in docs), key=lambda e: e.opened_at)


def _request_doc(r: Request) -> dict[str, Any]:
    doc = {k: v for k, v in r.__dict__.items() if not k.startswith("_") and k not in {"request_id", "version"}}
    doc.update(_id=r.request_id, kind=r.kind.value, month=month_of(r.submitted_at), version=r.version)
    return doc


def _request(d: dict[str, Any]) -> Request:
    fields = {k: v for k, v in d.items() if k not in {"_id", "kind", "month"}}
    return Request(request_id=d["_id"], kind=RequestKind(d["kind"]), **fields)


class MongoRequests(_Repo):
    async def add(self, request: Request) -> None:
        request.version = 1
        await self.db[REQUESTS].insert_one(_request_doc(request), session=self.session)

    async def get(self, request_id: str) -> Request:
        d = await self.db[REQUESTS].find_one({"_id": request_id}, session=self.session)
        if d is None:
            raise NotFound(f"no request {request_id}", field="request_id")
        return _request(d)

    async def save(self, request: Request) -> None:
        await _replace(self.db[REQUESTS], request.request_id, _request_doc(request), request, self.session)

    async def of_month(self, month: str) -> list[Request]:
        return [_request(d) for d in await self.db[REQUESTS].find({"month": month}, session=self.session).to_list()]


# -- lists and month results -------------------------------------------------------------------------------
def _pub(d: dict[str, Any]) -> Publication:
    return Publication(d["_id"], d["display_from"], d["display_until"], [Ranked(**r) for r in d["red"]],
                       [Ranked(**r) for r in d["black"]], d["published_by"], d["published_at"], d["chain_head"])


class MongoLists(_Repo):
    async def add(self, publication: Publication) -> None:
        doc = asdict(publication)
        doc["_id"] = doc.pop("month")
        try:
            await self.db[LISTS].insert_one(doc, session=self.session)
        except DuplicateKeyError as exc:
            raise Conflict(f"the list of {publication.month} was published already; it does not change",
                           field="month") from exc

    async def get(self, month: str) -> Publication:
        d = await self.db[LISTS].find_one({"_id": month}, session=self.session)
        if d is None:
            raise NotFound(f"no list published for {month}", field="month")
        return _pub(d)

    async def on_display(self, now: datetime) -> list[Publication]:
        docs = await self.db[LISTS].find({"display_until": {"$gt": now}}, session=self.session).to_list()
        return sorted((p for p in map(_pub, docs) if p.on_display(now)), key=lambda p: p.month, reverse=True)

    async def add_result(self, result: MonthResult) -> None:
        await self.db[RESULTS].insert_one({"_id": result.month, **result._asdict()}, session=self.session)

    async def result(self, month: str) -> MonthResult | None:
        d = await self.db[RESULTS].find_one({"_id": month}, session=self.session)
        return MonthResult(d["month"], d["online"], d["paper"], d["chain_head"], d["signed_by"]) if d else None


# -- figures: running tallies -----------------------------------------------------------------------------
def _tally_key(source: str, month: str, window: str | None, staff: str | None, department: str | None,
               matter: str | None, level: str) -> dict[str, Any]:
    return {"_id": f"{source}|{month}|{window}|{staff}|{department}|{matter}|{level}", "source": source,
            "month": month, "window_id": window, "staff_id": staff, "department": department, "matter": matter,
            "level": level}


TALLY_SHARDS = 8


def tally_increments(rows: list[dict[str, Any]], shard: int = 0) -> list[UpdateOne]:
    """``$inc`` upserts of the tallies, one per distinct key of ``rows`` (dicts of _tally_key's fields).
    A key is spread over ``TALLY_SHARDS`` documents (``shard``): concurrent ratings of one window
    and level then rarely write the same document (a write conflict, and a retry); figures sum them."""
    counts: dict[str, tuple[dict[str, Any], int]] = {}
    for r in rows:
        key = _tally_key(r["source"], r["month"], r.get("window_id"), r.get("staff_id"), r.get("department"),
                         r.get("matter"), r["level"])
        key["_id"] += f"|{shard}"
        doc, n = counts.get(key["_id"], (key, 0))
        counts[key["_id"]] = (doc, n + int(r.get("n", 1)))
    return [UpdateOne({"_id": k}, {"$setOnInsert": {f: v for f, v in doc.items() if f != "_id"}, "$inc": {"n": n}},
                      upsert=True) for k, (doc, n) in counts.items()]


def _tallies(rows: list[dict[str, Any]]) -> dict[str, Tally]:
    out: dict[str, Tally] = {}
    for r in rows:
        out.setdefault(r["_id"]["k"] or "unknown", Tally()).add(r["_id"]["level"], r["n"])
    return out


class MongoStats(_Repo):
    async def count_ratings(self, cases: list[RateableCase], delta: int) -> None:
        rows = [{"source": "online", "month": month_of(c.rating.rated_at), "window_id": c.window_id,
                 "staff_id": c.staff_id, "department": c.department, "matter": c.matter,
                 "level": c.rating.level.value, "n": delta} for c in cases if c.rating is not None]
        rows += [{"source": "day", "month": day_of(c.rating.rated_at), "level": c.rating.level.value, "n": delta}
                 for c in cases if c.rating is not None]  # the hall screen's today (the month field holds the day)
        if rows:
            await self.db[TALLIES].bulk_write(tally_increments(rows, shard=secrets.randbelow(TALLY_SHARDS)),
                                              session=self.session)

    async def _group(self, source: str, month: str, key: str) -> dict[str, Tally]:
        pipeline: list[dict[str, Any]] = [{"$match": {"source": source, "month": month}},
                    {"$group": {"_id": {"k": f"${key}", "level": "$level"}, "n": {"$sum": "$n"}}}]
        rows = await (await self.db[TALLIES].aggregate(pipeline, session=self.session)).to_list()
        return _tallies([r for r in rows if r["n"]])

    async def online(self, month: str, by: str) -> dict[str, Tally]:
        return await self._group("online", month, BY_FIELD[by])

    async def paper(self, month: str, by: str) -> dict[str, Tally]:
        if by not in {"window", "staff", "month"}:
            return {}
        return await self._group("paper", month, BY_FIELD[by])

    async def _count(self, source: str, month: str) -> int:
        return sum(t.total for t in (await self._group(source, month, "month")).values())

    async def day(self, day: str) -> Tally:
        return (await self._group("day", day, "month")).get(day, Tally())

    async def count_online(self, month: str) -> int:
        return await self._count("online", month)

    async def count_paper(self, month: str) -> int:
        return await self._count("paper", month)


class MongoKeys(_Repo):
    async def secret(self, name: str) -> bytes:
        doc = await self.db[KEYS].find_one({"_id": name}, session=self.session)
        if doc is None:
            try:
                await self.db[KEYS].insert_one({"_id": name, "secret": os.urandom(32)}, session=self.session)
            except DuplicateKeyError:
                pass  # another replica made it first: use theirs
            doc = await self.db[KEYS].find_one({"_id": name}, session=self.session)
        if doc is None:
            raise RuntimeError(f"secret {name} not stored")
        return bytes(doc["secret"])
