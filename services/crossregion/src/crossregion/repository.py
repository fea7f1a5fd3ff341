"""MongoDB adapters of the ports: the only module that imports pymongo; documents never leave it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from crossregion.domain import (
    Backlog,
    CrossCase,
    Custody,
    InvalidState,
    NotFound,
    Outgoing,
    Part,
    PartnerRegion,
    RegionKey,
    TimelineEntry,
)
from crossregion.ports import AuditRecord, ExchangeRecord
from servicekit.aggregate import ConcurrentUpdate

REGIONS, CASES, OUTGOING, EXCHANGES, NONCES, AUDIT = ("regions", "cases", "outgoing", "exchanges", "nonces",
                                                      "audit")


async def ensure_indexes(db: AsyncDatabase[Any]) -> None:
    await db[REGIONS].create_indexes([IndexModel([("keys.key_id", ASCENDING)], name="key_id")])
    await db[OUTGOING].create_indexes([
        IndexModel([("status", ASCENDING), ("due_at", ASCENDING)], name="status_due"),
        IndexModel([("claim", ASCENDING)], name="claim"),
        IndexModel([("status", ASCENDING), ("delivered_at", ASCENDING)], name="status_delivered"),
    ])
    await db[NONCES].create_indexes([IndexModel([("forget_after", ASCENDING)], name="forget", expireAfterSeconds=0)])
    await db[AUDIT].create_indexes([IndexModel([("at", ASCENDING)], name="at")])


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


@dataclass(frozen=True)
class MongoRepositories:
    regions: MongoRegions
    cases: MongoCases
    outgoing: MongoOutgoing
    exchanges: MongoExchanges

    @classmethod
    def bind(cls, db: AsyncDatabase[Any], session: AsyncClientSession | None) -> MongoRepositories:
        return cls(MongoRegions(db, session), MongoCases(db, session), MongoOutgoing(db, session),
                   MongoExchanges(db, session))


class _Repo:
    name = ""

    def __init__(self, db: AsyncDatabase[Any], session: AsyncClientSession | None) -> None:
        self.db, self.session, self.coll = db, session, db[self.name]


# -- regions -------------------------------------------------------------------------------------
def _region(doc: dict[str, Any]) -> PartnerRegion:
    return PartnerRegion(division_code=doc["_id"], name=doc["name"], endpoint=doc["endpoint"],
                         keys=[RegionKey(k["key_id"], k["public_key"], _utc(k["added_at"]),  # type: ignore[arg-type]
                                         _utc(k.get("valid_until"))) for k in doc["keys"]],
                         matters=doc["matters"], modes=doc["modes"], our_key_id=doc.get("our_key_id", ""),
                         created_at=_utc(doc.get("created_at")), history=doc.get("history", []))


class MongoRegions(_Repo):
    name = REGIONS

    async def find(self, division_code: str) -> PartnerRegion | None:
        doc = await self.coll.find_one({"_id": division_code}, session=self.session)
        return _region(doc) if doc else None

    async def get(self, division_code: str) -> PartnerRegion:
        region = await self.find(division_code)
        if region is None:
            raise NotFound(f"no partner region {division_code}")
        return region

    async def by_key_id(self, key_id: str) -> PartnerRegion | None:
        doc = await self.coll.find_one({"keys.key_id": key_id}, session=self.session)
        return _region(doc) if doc else None

    async def list(self) -> list[PartnerRegion]:
        return [_region(d) async for d in self.coll.find({}, session=self.session).sort("_id", ASCENDING)]

    async def save(self, region: PartnerRegion) -> None:
        doc = asdict(region)
        doc["_id"] = doc.pop("division_code")
        await self.coll.replace_one({"_id": doc["_id"]}, doc, upsert=True, session=self.session)


# -- cases ---------------------------------------------------------------------------------------
def _case_doc(case: CrossCase) -> dict[str, Any]:
    doc = {k: v for k, v in asdict(case).items() if k not in ("_events",)}
    doc["_id"] = doc.pop("reference")
    return doc


def _case(doc: dict[str, Any]) -> CrossCase:
    d = dict(doc)
    d["reference"] = d.pop("_id")
    d["parts"] = {k: Part(**{**p, "completed_at": _utc(p.get("completed_at"))}) for k, p in d["parts"].items()}
    d["custody"] = [Custody(**{**c, "updated_at": _utc(c["updated_at"])}) for c in d["custody"]]
    d["timeline"] = [TimelineEntry(**{**t, "at": _utc(t["at"])}) for t in d["timeline"]]
    for key in ("opened_at", "completed_at"):
        d[key] = _utc(d.get(key))
    return CrossCase(**d)


class MongoCases(_Repo):
    name = CASES

    async def add(self, case: CrossCase) -> None:
        try:
            await self.coll.insert_one({**_case_doc(case), "version": 1}, session=self.session)
        except DuplicateKeyError as exc:
            raise InvalidState(f"case {case.reference} exists") from exc
        case.version = 1

    async def find(self, reference: str) -> CrossCase | None:
        doc = await self.coll.find_one({"_id": reference}, session=self.session)
        return _case(doc) if doc else None

    async def get(self, reference: str) -> CrossCase:
        case = await self.find(reference)
        if case is None:
            raise NotFound(f"no case {reference}")
        return case

    async def save(self, case: CrossCase) -> None:
        doc = {**_case_doc(case), "version": case.version + 1}
        result = await self.coll.replace_one({"_id": case.reference, "version": case.version}, doc,
                                             session=self.session)
        if result.matched_count != 1:
            raise ConcurrentUpdate(f"case {case.reference} changed meanwhile")
        case.version += 1


# -- the outbound queue ------------------------------------------------------------------------------
def _outgoing(doc: dict[str, Any]) -> Outgoing:
    d = {k: v for k, v in doc.items() if k not in ("_id", "claim")}
    for key in ("created_at", "due_at", "delivered_at"):
        d[key] = _utc(d.get(key))
    return Outgoing(exchange_id=doc["_id"], **d)


class MongoOutgoing(_Repo):
    name = OUTGOING

    async def add(self, item: Outgoing) -> None:
        doc = asdict(item)
        doc["_id"] = doc.pop("exchange_id")
        await self.coll.insert_one({**doc, "claim": None}, session=self.session)

    async def claim_due(self, now: datetime, until: datetime, token: str, limit: int) -> list[Outgoing]:
        due = self.coll.find({"status": "pending", "due_at": {"$lte": now}}, {"_id": 1},
                             session=self.session).sort("due_at", ASCENDING).limit(limit)
        ids = [d["_id"] async for d in due]
        if not ids:
            return []
        await self.coll.update_many({"_id": {"$in": ids}, "status": "pending", "due_at": {"$lte": now}},
                                    {"$set": {"claim": token, "due_at": until}}, session=self.session)
        claimed = [_outgoing(d) async for d in self.coll.find({"claim": token}, session=self.session)]
        return sorted(claimed, key=lambda o: (o.created_at, o.exchange_id))

    async def save_claimed(self, item: Outgoing, token: str) -> bool:
        doc = asdict(item)
        doc.pop("exchange_id")
        result = await self.coll.update_one({"_id": item.exchange_id, "claim": token},
                                            {"$set": {**doc, "claim": None}}, session=self.session)
        return result.modified_count == 1

    async def backlog(self) -> Backlog:
        rows = [d async for d in await self.coll.aggregate([
            {"$match": {"status": "pending"}},
            {"$group": {"_id": "$region", "n": {"$sum": 1}, "oldest": {"$min": "$created_at"}}}],
            session=self.session)]
        oldest = min((_utc(r["oldest"]) for r in rows), default=None)  # type: ignore[type-var]
        return Backlog(pending=sum(r["n"] for r in rows), oldest_created_at=oldest,
                       by_region={r["_id"]: r["n"] for r in rows})


    async def forget_delivered(self, before: datetime) -> int:
        result = await self.coll.delete_many({"status": "delivered", "delivered_at": {"$lt": before}},
                                             session=self.session)
        return int(result.deleted_count)


# -- inbound exchanges, nonces, audit ---------------------------------------------------------------
class MongoExchanges(_Repo):
    name = EXCHANGES

    async def get(self, exchange_id: str) -> ExchangeRecord | None:
        doc = await self.coll.find_one({"_id": exchange_id}, session=self.session)
        if doc is None:
            return None
        return ExchangeRecord(doc["_id"], doc["sender"], doc["kind"], doc["digest"], doc["reference"],
                              _utc(doc["received_at"]))  # type: ignore[arg-type]

    async def add(self, record: ExchangeRecord) -> None:
        doc = asdict(record)
        doc["_id"] = doc.pop("exchange_id")
        try:
            await self.coll.insert_one(doc, session=self.session)
        except DuplicateKeyError as exc:  # the same exchange arrived twice at once: run again, see it
            raise ConcurrentUpdate(f"exchange {record.exchange_id} recorded meanwhile") from exc

    async def use_nonce(self, key_id: str, nonce: str, forget_after: datetime) -> bool:
        try:
            await self.db[NONCES].insert_one({"_id": f"{key_id}:{nonce}", "forget_after": forget_after},
                                             session=self.session)
        except DuplicateKeyError:
            return False
        return True

    async def audit(self, record: AuditRecord) -> None:
        await self.db[AUDIT].insert_one(asdict(record), session=self.session)

    async def audit_trail(self, limit: int) -> list[AuditRecord]:
        cursor = self.db[AUDIT].find({}, {"_id": 0}, session=self.session).sort("at", -1).limit(limit)
        return [AuditRecord(**{**d, "at": _utc(d["at"])}) async for d in cursor]
