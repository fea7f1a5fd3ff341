"""The only module that touches pymongo; documents never leave it.

Every query filters on an indexed field (SecantusDB scans otherwise). Queues are swept by
``due_at``: a pass claims its batch with one ``update_many`` stamping a claim token (never
``find_one_and_update``, which scans the whole collection there), and each outcome is
written with a ``replace_one`` conditional on the document's ``version`` and that token.

Versioned documents (messages, deliveries, subscriptions) are replaced only at the version
they were loaded at, and stored as the next one; otherwise ``ConcurrentUpdate`` (except a
claimed write whose claim was taken over: :attr:`Claim.LOST`). The object keeps the version
it was loaded at, so a transaction run again saves it again correctly; load it again to
save it a second time."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, ReplaceOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from notifications.domain import (
    Agency,
    AttemptRecord,
    CaseFile,
    Channel,
    Claim,
    Contact,
    Delivery,
    DeliveryHealth,
    DeliveryStatus,
    FeedCursor,
    Gap,
    Message,
    MessageStatus,
    Parked,
    QuietHours,
    Sequencer,
    StatusChange,
    Subscription,
    SubscriptionStatus,
)
from notifications.ports import Claimed
from servicekit.aggregate import ConcurrentUpdate

MESSAGES, CONTACTS, CASES = "messages", "contacts", "cases"
# lower bound of every due_at range: without it SecantusDB walks all the null due_at (final
# messages and deliveries) at the front of the index on every dispatcher pass
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SUBSCRIPTIONS, AGENCIES, DELIVERIES = "subscriptions", "agencies", "deliveries"


async def ensure_indexes(db: AsyncDatabase) -> None:
    await db[MESSAGES].create_indexes([
        IndexModel([("case_number", ASCENDING), ("created_at", ASCENDING)]),
        IndexModel([("recipient_id", ASCENDING), ("created_at", DESCENDING)]),
        IndexModel([("due_at", ASCENDING)]),
        IndexModel([("source_event_id", ASCENDING)]),
    ])
    await db[CASES].create_indexes([IndexModel([("hold_until", ASCENDING)], sparse=True)])
    await db[CONTACTS].create_indexes([IndexModel([("role", ASCENDING), ("department", ASCENDING)])])
    await db[SUBSCRIPTIONS].create_indexes([
        IndexModel([("event_types", ASCENDING), ("status", ASCENDING)]),
        IndexModel([("agency_id", ASCENDING), ("created_at", ASCENDING)]),
    ])
    await db[DELIVERIES].create_indexes([
        IndexModel([("due_at", ASCENDING)]),
        IndexModel([("subscription_id", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)]),
        IndexModel([("subscription_id", ASCENDING), ("status", ASCENDING)]),
        # the operators' delivery health (GET /ops/subscriptions/health): every query on an index
        IndexModel([("subscription_id", ASCENDING), ("status", ASCENDING), ("delivered_at", ASCENDING)]),
        IndexModel([("subscription_id", ASCENDING), ("last_failure_at", ASCENDING)]),
    ])


class _Repo:
    collection = ""

    def __init__(self, db: AsyncDatabase, session: AsyncClientSession | None = None) -> None:
        self.coll, self.session = db[self.collection], session

    async def _replace_versioned(self, doc: dict[str, Any], version: int) -> None:
        """Replace the document (as ``version + 1``) if its stored version is ``version``."""
        res = await self.coll.replace_one({"_id": doc["_id"], "version": version}, {**doc, "version": version + 1},
                                          session=self.session)
        if res.modified_count != 1:
            raise ConcurrentUpdate(f"{self.collection} {doc['_id']}: version {version} is not the stored one")

    async def _replace_claimed(self, doc: dict[str, Any], version: int, claim: str) -> Claim:
        """Replace the document (as ``version + 1``, its claim released) if ``claim`` still
        holds it at ``version``; a claim taken over by another pass is LOST, not a conflict."""
        res = await self.coll.replace_one({"_id": doc["_id"], "version": version, "claim": claim},
                                          {**doc, "version": version + 1}, session=self.session)
        if res.modified_count == 1:
            return Claim.KEPT
        stored = await self.coll.find_one({"_id": doc["_id"]}, {"claim": 1}, session=self.session)
        if stored is None or stored.get("claim") != claim:
            return Claim.LOST
        raise ConcurrentUpdate(f"{self.collection} {doc['_id']}: version {version} is not the stored one")

    async def _claim_due(self, now: datetime, until: datetime, token: str, limit: int) -> list[dict[str, Any]]:
        """Claim up to ``limit`` documents due at ``now`` for this pass: one ``update_many``
        moves their ``due_at`` to ``until`` and stamps ``token``; each document is taken
        by exactly one claimer (the filter re-checks ``due_at``); read back by token."""
        due = await self.coll.find({"due_at": {"$gte": _EPOCH, "$lte": now}}, {"_id": 1}, session=self.session).sort(
            [("due_at", ASCENDING)]).limit(limit).to_list()
        if not due:
            return []
        ids = [d["_id"] for d in due]
        await self.coll.update_many({"_id": {"$in": ids}, "due_at": {"$gte": _EPOCH, "$lte": now}},
                                    {"$set": {"due_at": until, "claim": token}}, session=self.session)
        return await self.coll.find({"_id": {"$in": ids}, "claim": token}, session=self.session).to_list()


# -- messages ---------------------------------------------------------------------------------
def _message_doc(m: Message) -> dict[str, Any]:
    return {"_id": m.message_id, "case_number": m.case_number, "recipient_id": m.recipient_id, "channel": m.channel,
            "address": m.address, "template": m.template, "title": m.title, "text": m.text,
            "created_at": m.created_at, "source_event_id": m.source_event_id, "expires_at": m.expires_at,
            "due_at": m.due_at, "trace_id": m.trace_id, "urgent": m.urgent, "status": m.status.value,
            "attempts": m.attempts, "provider": m.provider, "provider_ref": m.provider_ref,
            "last_error": m.last_error, "delivered_at": m.delivered_at, "version": m.version,
            "history": [{"at": h.at, "status": h.status.value, "note": h.note} for h in m.history],
            "case_seq": m.case_seq}


def _message(d: dict[str, Any]) -> Message:
    return Message(d["_id"], d["case_number"], d["recipient_id"], d["channel"], d["address"], d["template"],
                   d["title"], d["text"], d["created_at"], d["source_event_id"], d["expires_at"], d.get("due_at"),
                   d.get("trace_id"), d.get("urgent", False), MessageStatus(d["status"]), d.get("attempts", 0),
                   d.get("provider"), d.get("provider_ref"), d.get("last_error"), d.get("delivered_at"),
                   [StatusChange(h["at"], MessageStatus(h["status"]), h.get("note", "")) for h in d.get("history", [])],
                   d.get("case_seq"), version=d.get("version", 0))


class MongoMessageRepository(_Repo):
    collection = MESSAGES

    async def add_many(self, messages: list[Message], claimed: Claimed | None = None) -> None:
        docs = [_message_doc(m) for m in messages]
        if claimed is not None:
            for d in docs:
                if d["_id"] in claimed.ids:
                    d.update(claim=claimed.token, due_at=claimed.until)
        await self.coll.insert_many(docs, session=self.session)

    async def get(self, message_id: str) -> Message | None:
        doc = await self.coll.find_one({"_id": message_id}, session=self.session)
        return _message(doc) if doc else None

    async def save_claimed(self, message: Message, claim: str) -> Claim:
        return await self._replace_claimed(_message_doc(message), message.version, claim)

    async def save_claimed_many(self, messages: list[Message], claim: str) -> int:
        res = await self.coll.bulk_write([
            ReplaceOne({"_id": m.message_id, "version": m.version, "claim": claim},
                       {**_message_doc(m), "version": m.version + 1}) for m in messages], ordered=False,
            session=self.session)
        return int(res.modified_count)

    async def for_case(self, case_number: str) -> list[Message]:
        docs = await self.coll.find({"case_number": case_number}, session=self.session).sort(
            [("case_number", ASCENDING), ("created_at", ASCENDING)]).to_list()
        return [_message(d) for d in docs]

    async def for_recipients(self, recipient_ids: list[str], limit: int) -> list[Message]:
        docs = await self.coll.find({"recipient_id": {"$in": recipient_ids}}, session=self.session).sort(
            [("created_at", DESCENDING)]).limit(limit).to_list()
        return [_message(d) for d in docs]

    async def claim_due(self, now: datetime, until: datetime, token: str, limit: int) -> list[Message]:
        return [_message(d) for d in await self._claim_due(now, until, token, limit)]


# -- contacts and cases -----------------------------------------------------------------------
def _contact(d: dict[str, Any]) -> Contact:
    channels = d.get("channels")
    hours = d.get("quiet_hours")
    return Contact(d["_id"], d.get("role", "applicant"), d.get("department"), d.get("phone"),
                   d.get("phone_from_preferences", False), d.get("email"), d.get("wechat_openid"),
                   tuple(Channel(c) for c in channels) if channels is not None else None,
                   QuietHours.parse(hours) if hours is not None else None, d.get("updated_at"))


class MongoContactRepository(_Repo):
    collection = CONTACTS

    async def get(self, recipient_id: str) -> Contact | None:
        doc = await self.coll.find_one({"_id": recipient_id}, session=self.session)
        return _contact(doc) if doc else None

    async def get_many(self, recipient_ids: Iterable[str]) -> dict[str, Contact]:
        docs = await self.coll.find({"_id": {"$in": list(recipient_ids)}}, session=self.session).to_list()
        return {d["_id"]: _contact(d) for d in docs}

    async def save(self, c: Contact) -> None:
        doc = {"role": c.role, "department": c.department, "phone": c.phone,
               "phone_from_preferences": c.phone_from_preferences, "email": c.email, "wechat_openid": c.wechat_openid,
               "channels": [ch.value for ch in c.channels] if c.channels is not None else None,
               "quiet_hours": str(c.quiet_hours) if c.quiet_hours is not None else None, "updated_at": c.updated_at}
        await self.coll.replace_one({"_id": c.recipient_id}, doc, upsert=True, session=self.session)

    async def staff(self, role: str, department: str | None) -> list[Contact]:
        query: dict[str, Any] = {"role": role} if department is None else {"role": role, "department": department}
        return [_contact(d) for d in await self.coll.find(query, session=self.session).to_list()]


class MongoCaseRepository(_Repo):
    collection = CASES

    async def get(self, case_number: str) -> CaseFile | None:
        d = await self.coll.find_one({"_id": case_number}, session=self.session)
        return _case(d) if d else None

    async def get_many(self, case_numbers: Iterable[str]) -> dict[str, CaseFile]:
        docs = await self.coll.find({"_id": {"$in": list(case_numbers)}}, session=self.session).to_list()
        return {d["_id"]: _case(d) for d in docs}

    async def save(self, case: CaseFile) -> None:
        await self.coll.replace_one({"_id": case.case_number}, _case_doc(case), upsert=True, session=self.session)

    async def save_many(self, cases: list[CaseFile]) -> None:
        if cases:
            await self.coll.bulk_write([ReplaceOne({"_id": c.case_number}, _case_doc(c), upsert=True) for c in cases],
                                       ordered=False, session=self.session)

    async def held(self, now: datetime, limit: int) -> list[str]:
        """Cases with an event whose hold ran out by ``now``, soonest first."""
        return [d["_id"] for d in await self.coll.find({"hold_until": {"$lte": now}}, {"_id": 1},
                                                       session=self.session).sort("hold_until", ASCENDING)
                .limit(limit).to_list()]


def _case_doc(case: CaseFile) -> dict[str, Any]:
    o = case.order
    return {
        "applicant_id": case.applicant_id, "company_name": case.company_name, "helper_id": case.helper_id,
        "updated_at": case.updated_at, "seqs": o.seqs, "hold_until": o.hold_until,
        "parked": [{"source": p.source, "seq": p.seq, "ce_type": p.ce_type, "payload": p.payload, "until": p.until}
                   for p in o.parked],
        "gaps": [{"source": g.source, "first": g.first, "last": g.last, "at": g.at} for g in o.gaps],
    }


def _case(d: dict[str, Any]) -> CaseFile:
    order = Sequencer(d.get("seqs"), [Parked(**p) for p in d.get("parked", [])],
                      [Gap(**g) for g in d.get("gaps", [])])
    return CaseFile(d["_id"], d.get("applicant_id"), d.get("company_name"), d.get("helper_id"), d.get("updated_at"),
                    order)


# -- partner agencies -------------------------------------------------------------------------
def _subscription(d: dict[str, Any]) -> Subscription:
    return Subscription(d["_id"], d["agency_id"], tuple(d["event_types"]),
                        {k: tuple(v) for k, v in d.get("filters", {}).items()}, d.get("webhook_url"), d.get("secret"),
                        d["created_at"], SubscriptionStatus(d["status"]), d.get("disabled_reason"),
                        d.get("disabled_at"), version=d.get("version", 0))


class MongoSubscriptionRepository(_Repo):
    collection = SUBSCRIPTIONS

    @staticmethod
    def _doc(s: Subscription) -> dict[str, Any]:
        return {"_id": s.subscription_id, "agency_id": s.agency_id, "event_types": list(s.event_types),
                "filters": {k: list(v) for k, v in s.filters.items()}, "webhook_url": s.webhook_url,
                "secret": s.secret, "created_at": s.created_at, "status": s.status.value,
                "disabled_reason": s.disabled_reason, "disabled_at": s.disabled_at, "version": s.version}

    async def add(self, subscription: Subscription) -> None:
        await self.coll.insert_one(self._doc(subscription), session=self.session)

    async def get(self, subscription_id: str) -> Subscription | None:
        d = await self.coll.find_one({"_id": subscription_id}, session=self.session)
        return _subscription(d) if d else None

    async def get_many(self, subscription_ids: Iterable[str]) -> dict[str, Subscription]:
        ids = list(subscription_ids)
        if not ids:
            return {}
        docs = await self.coll.find({"_id": {"$in": ids}}, session=self.session).to_list()
        return {d["_id"]: _subscription(d) for d in docs}

    async def save(self, subscription: Subscription) -> None:
        await self._replace_versioned(self._doc(subscription), subscription.version)

    async def for_agency(self, agency_id: str | None) -> list[Subscription]:
        query = {} if agency_id is None else {"agency_id": agency_id}
        docs = await self.coll.find(query, session=self.session).sort([("created_at", ASCENDING)]).to_list()
        return [_subscription(d) for d in docs]

    async def matching(self, event_type: str) -> list[Subscription]:
        docs = await self.coll.find({"event_types": event_type}, session=self.session).to_list()  # disabled too
        return [_subscription(d) for d in docs]


class MongoAgencyRepository(_Repo):
    collection = AGENCIES

    async def get_many(self, agency_ids: Iterable[str]) -> dict[str, Agency]:
        docs = await self.coll.find({"_id": {"$in": list(agency_ids)}}, session=self.session).to_list()
        return {d["_id"]: Agency(d["_id"], frozenset(d.get("departments", [])), d.get("personal_data", False),
                                 d.get("updated_at")) for d in docs}

    async def save(self, agency: Agency) -> None:
        await self.coll.replace_one({"_id": agency.agency_id}, {
            "departments": sorted(agency.departments), "personal_data": agency.personal_data,
            "updated_at": agency.updated_at}, upsert=True, session=self.session)


def _delivery_doc(x: Delivery) -> dict[str, Any]:
    return {"_id": x.delivery_id, "subscription_id": x.subscription_id, "agency_id": x.agency_id,
            "event_id": x.event_id, "event_type": x.event_type, "case_number": x.case_number, "payload": x.payload,
            "created_at": x.created_at, "status": x.status.value, "due_at": x.due_at, "attempts": x.attempts,
            "last_status_code": x.last_status_code, "last_error": x.last_error, "delivered_at": x.delivered_at,
            "history": [{"at": h.at, "status_code": h.status_code, "error": h.error} for h in x.history],
            "last_failure_at": x.last_failure_at, "last_failure_reason": x.last_failure_reason, "version": x.version}


def _delivery(d: dict[str, Any]) -> Delivery:
    return Delivery(d["_id"], d["subscription_id"], d["agency_id"], d["event_id"], d["event_type"],
                    d["case_number"], d["payload"], d["created_at"], DeliveryStatus(d["status"]), d.get("due_at"),
                    d.get("attempts", 0), d.get("last_status_code"), d.get("last_error"), d.get("delivered_at"),
                    [AttemptRecord(h["at"], h.get("status_code"), h.get("error")) for h in d.get("history", [])],
                    d.get("last_failure_at"), d.get("last_failure_reason"), version=d.get("version", 0))


class MongoDeliveryRepository(_Repo):
    collection = DELIVERIES

    async def add_many(self, deliveries: list[Delivery], claimed: Claimed | None = None) -> None:
        docs = [_delivery_doc(x) for x in deliveries]
        if claimed is not None:
            for d in docs:
                if d["_id"] in claimed.ids:
                    d.update(claim=claimed.token, due_at=claimed.until)
        await self.coll.insert_many(docs, session=self.session)

    async def save_claimed(self, delivery: Delivery, claim: str) -> Claim:
        return await self._replace_claimed(_delivery_doc(delivery), delivery.version, claim)

    async def save_claimed_many(self, deliveries: list[Delivery], claim: str) -> int:
        res = await self.coll.bulk_write([
            ReplaceOne({"_id": d.delivery_id, "version": d.version, "claim": claim},
                       {**_delivery_doc(d), "version": d.version + 1}) for d in deliveries], ordered=False,
            session=self.session)
        return int(res.modified_count)

    async def claim_due(self, now: datetime, until: datetime, token: str, limit: int) -> list[Delivery]:
        return [_delivery(d) for d in await self._claim_due(now, until, token, limit)]

    async def feed(self, subscription_id: str, after: FeedCursor | None, until: datetime,
                   limit: int) -> list[Delivery]:
        query: dict[str, Any] = {"subscription_id": subscription_id, "created_at": {"$lte": until}}
        if after is not None:
            query["$or"] = [{"created_at": {"$gt": after.created_at}},
                            {"created_at": after.created_at, "_id": {"$gt": after.delivery_id}}]
        docs = await self.coll.find(query, session=self.session).sort(
            [("subscription_id", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)]).limit(limit).to_list()
        return [_delivery(d) for d in docs]

    async def health(self, subscription_id: str, since: datetime) -> DeliveryHealth:
        sub = {"subscription_id": subscription_id}
        delivered = await self.coll.count_documents(
            {**sub, "status": DeliveryStatus.DELIVERED.value, "delivered_at": {"$gte": since}}, session=self.session)
        failed = await self.coll.count_documents({**sub, "last_failure_at": {"$gte": since}}, session=self.session)
        pending = await self.coll.count_documents({**sub, "status": DeliveryStatus.PENDING.value}, session=self.session)
        ok = await self.coll.find_one({**sub, "status": DeliveryStatus.DELIVERED.value, "delivered_at": {"$gte": _EPOCH}},
                                      {"delivered_at": 1}, session=self.session,
                                      sort=[("subscription_id", ASCENDING), ("status", ASCENDING),
                                            ("delivered_at", DESCENDING)])
        bad = await self.coll.find_one({**sub, "last_failure_at": {"$gte": _EPOCH}},
                                       {"last_failure_at": 1, "last_failure_reason": 1}, session=self.session,
                                       sort=[("subscription_id", ASCENDING), ("last_failure_at", DESCENDING)])
        return DeliveryHealth(delivered, failed, pending, ok["delivered_at"] if ok else None,
                              bad["last_failure_at"] if bad else None, bad.get("last_failure_reason") if bad else None)

    async def for_subscription(self, subscription_id: str, limit: int) -> list[Delivery]:
        docs = await self.coll.find({"subscription_id": subscription_id}, session=self.session).sort(
            [("subscription_id", ASCENDING), ("created_at", DESCENDING)]).limit(limit).to_list()
        return [_delivery(d) for d in docs]

    async def cancel_pending(self, subscription_id: str, reason: str) -> int:
        """Cancel the subscription's pending deliveries, taking them from a pass that claimed them."""
        res = await self.coll.update_many(
            {"subscription_id": subscription_id, "status": DeliveryStatus.PENDING.value},
            {"$set": {"status": DeliveryStatus.CANCELLED.value, "due_at": None, "last_error": reason},
             "$unset": {"claim": ""}, "$inc": {"version": 1}}, session=self.session)
        return res.modified_count


@dataclass
class MongoRepositories:
    """The repositories bound to one session (None: no transaction); satisfies
    ``notifications.ports.Repositories``."""

    messages: MongoMessageRepository
    contacts: MongoContactRepository
    cases: MongoCaseRepository
    subscriptions: MongoSubscriptionRepository
    agencies: MongoAgencyRepository
    deliveries: MongoDeliveryRepository

    @classmethod
    def bind(cls, db: AsyncDatabase[Any], session: AsyncClientSession | None) -> MongoRepositories:
        return cls(MongoMessageRepository(db, session), MongoContactRepository(db, session),
                   MongoCaseRepository(db, session), MongoSubscriptionRepository(db, session),
                   MongoAgencyRepository(db, session), MongoDeliveryRepository(db, session))
