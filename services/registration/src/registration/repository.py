"""The only module that touches pymongo; documents never leave it."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from registration.domain import (
    Case,
    ChangeForm,
    CompanyForm,
    HistoryEntry,
    NameTaken,
    NotFound,
    Status,
    Step,
    StepState,
    StepStatus,
)
from registration.domain.statistics import Count
from servicekit.aggregate import ConcurrentUpdate
from servicekit.mongo import save_versioned
from servicekit.tallies import Tallies
from servicekit.timers import SessionTimers

CASES, NAMES, COUNTERS, STATS = "cases", "company_names", "counters", "statistics"
STORED = {"stored": True}  # forms read back skip the code-list lookups (domain.forms)


async def ensure_indexes(db: AsyncDatabase[Any]) -> None:
    await db[CASES].create_indexes([
        IndexModel([("status", ASCENDING), ("due_at", ASCENDING)], name="status_due"),
        IndexModel([("applicant_id", ASCENDING)], name="applicant"),
    ])
    await Tallies.ensure_indexes(db[STATS], ["period"])


def normalise_name(name: str) -> str:
    return "".join(unicodedata.normalize("NFKC", name).split()).upper()


@dataclass(frozen=True)
class MongoRepositories:
    """Registration's repositories bound to one session (``None``: no transaction); satisfies
    ``ports.Repositories``. ``bind`` is what the kit's unit of work calls."""

    cases: MongoCaseRepository
    timers: SessionTimers
    stats: MongoStats

    @classmethod
    def bind(cls, db: AsyncDatabase[Any], session: AsyncClientSession | None) -> MongoRepositories:
        return cls(MongoCaseRepository(db, session), SessionTimers(db, session), MongoStats(db, session))


class MongoStats:
    """The statistics' running tallies (``servicekit.tallies``): period, kind, measure → n."""

    def __init__(self, db: AsyncDatabase[Any], session: AsyncClientSession | None = None) -> None:
        self.tallies = Tallies(db[STATS], session)

    async def count(self, counts: Sequence[Count]) -> None:
        await self.tallies.add(({"period": c.period, "kind": c.kind, "measure": c.measure}, c.n) for c in counts)

    async def sums(self, periods: list[str]) -> dict[tuple[str, str, str], int]:
        found = await self.tallies.sums({"period": {"$in": periods}}, ["period", "kind", "measure"])
        return {(p, k, m): n for (p, k, m), n in found.items()}


class MongoCaseRepository:
    def __init__(self, db: AsyncDatabase[Any], session: AsyncClientSession | None = None) -> None:
        self.db, self.session = db, session
        self.cases = db[CASES]

    async def add(self, case: Case) -> None:
        if case.kind == "establishment":
            try:
                await self.db[NAMES].insert_one(
                    {"_id": normalise_name(case.form.company_name), "case_number": case.case_number,
                     "name": case.form.company_name}, session=self.session)
            except DuplicateKeyError as exc:
                raise NameTaken(case.form.company_name) from exc
        await self.cases.insert_one(_to_doc(case), session=self.session)
        case.version = 1

    async def get(self, case_number: str) -> Case:
        doc = await self.cases.find_one({"_id": case_number}, session=self.session)
        if doc is None:
            raise NotFound(f"no case {case_number}")
        return _from_doc(doc)

    async def get_many(self, case_numbers: list[str]) -> dict[str, Case]:
        docs = await self.cases.find({"_id": {"$in": case_numbers}}, session=self.session).to_list()
        return {d["_id"]: _from_doc(d) for d in docs}

    async def save_many(self, cases: list[Case]) -> None:
        await save_versioned(self.cases, [(c.case_number, _to_doc(c), c) for c in cases], session=self.session,
                             what="cases")

    async def holding_name(self, company_name: str) -> Case | None:
        held = await self.db[NAMES].find_one({"_id": normalise_name(company_name)}, session=self.session)
        doc = await self.cases.find_one({"_id": held["case_number"]}, session=self.session) if held else None
        return _from_doc(doc) if doc else None

    async def save(self, case: Case) -> None:
        doc = _to_doc(case)
        doc["version"] = case.version + 1
        res = await self.cases.replace_one({"_id": case.case_number, "version": case.version}, doc,
                                           session=self.session)
        if res.matched_count != 1:
            raise ConcurrentUpdate(f"case {case.case_number} changed meanwhile")
        case.version += 1

    async def rename(self, case: Case, old_name: str) -> None:
        old, new = normalise_name(old_name), normalise_name(case.form.company_name)
        if old == new:  # the same name written otherwise (spaces, full-width): the same hold
            await self.db[NAMES].update_one({"_id": old, "case_number": case.case_number},
                                            {"$set": {"name": case.form.company_name}}, session=self.session)
            return
        try:
            await self.db[NAMES].insert_one({"_id": new, "case_number": case.case_number,
                                             "name": case.form.company_name}, session=self.session)
        except DuplicateKeyError as exc:
            raise NameTaken(case.form.company_name) from exc
        await self.db[NAMES].delete_one({"_id": old, "case_number": case.case_number}, session=self.session)

    async def release_name(self, case: Case) -> None:
        await self.db[NAMES].delete_one({"_id": normalise_name(case.form.company_name),
                                         "case_number": case.case_number}, session=self.session)

    async def open_due_before(self, before: datetime, limit: int) -> list[Case]:
        cursor = self.cases.find({"status": Status.ACCEPTED.value, "due_at": {"$lte": before}},
                                 session=self.session).sort([("status", ASCENDING), ("due_at", ASCENDING)]).limit(limit)
        return [_from_doc(d) for d in await cursor.to_list()]

    async def open_provisional(self, limit: int) -> list[Case]:
        cursor = self.cases.find({"status": Status.ACCEPTED.value, "due_at_provisional": True},
                                 session=self.session).sort([("due_at", ASCENDING)]).limit(limit)
        return [_from_doc(d) for d in await cursor.to_list()]

    async def next_code_sequence(self, division_code: str) -> int:
        # `counters` holds one tiny document per division, so find_one_and_update's
        # whole-collection scan on SecantusDB stays cheap here.
        doc = await self.db[COUNTERS].find_one_and_update(
            {"_id": f"uscc:{division_code}"}, {"$inc": {"seq": 1}}, upsert=True,
            return_document=ReturnDocument.AFTER, session=self.session)
        if doc is None:  # upserted and returned AFTER: only a driver fault gets here
            raise RuntimeError(f"counter uscc:{division_code} not returned")
        return int(doc["seq"])


def _to_doc(c: Case) -> dict[str, Any]:
    return {
        "_id": c.case_number, "kind": c.kind, "form": c.form.model_dump(mode="json"),
        "applicant_id": c.applicant_id, "applicant_phone": c.applicant_phone, "channel": c.channel,
        "submitted_at": c.submitted_at, "status": c.status.value,
        "steps": {s.value: {**asdict(st), "status": st.status.value} for s, st in c.steps.items()},
        "accepted_at": c.accepted_at, "due_at": c.due_at, "due_at_provisional": c.due_at_provisional,
        "closed_at": c.closed_at, "staff_id": c.staff_id,
        "helper_id": c.helper_id, "uscc": c.uscc, "missing": c.missing, "warned": c.warned, "overdue": c.overdue,
        "correlation_id": c.correlation_id,
        "history": [asdict(h) for h in c.history], "version": c.version, "event_seq": c.event_seq,
    }


def _from_doc(d: dict[str, Any]) -> Case:
    form_cls = ChangeForm if d["kind"] == "change" else CompanyForm
    steps = {Step(k): StepState(**{**v, "status": StepStatus(v["status"])}) for k, v in d["steps"].items()}
    return Case(
        case_number=d["_id"], kind=d["kind"], form=form_cls.model_validate(d["form"], context=STORED), applicant_id=d["applicant_id"],
        channel=d["channel"], submitted_at=d["submitted_at"], applicant_phone=d.get("applicant_phone"),
        status=Status(d["status"]), steps=steps, accepted_at=d.get("accepted_at"), due_at=d.get("due_at"),
        due_at_provisional=d.get("due_at_provisional", False), closed_at=d.get("closed_at"), staff_id=d.get("staff_id"), helper_id=d.get("helper_id"), uscc=d.get("uscc"),
        missing=d.get("missing", []), warned=d.get("warned", False), overdue=d.get("overdue", False),
        correlation_id=d.get("correlation_id", d["_id"]),
        history=[HistoryEntry(**h) for h in d.get("history", [])], version=d["version"],
        event_seq=d.get("event_seq", 0),
    )
