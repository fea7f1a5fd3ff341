"""MongoDB adapters of the ports: the only module that imports pymongo; documents never leave it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from bson.binary import Binary
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from approvals.domain import (
    AlreadyExists,
    Entry,
    FieldDef,
    HistoryEntry,
    ItemDef,
    ItemState,
    ItemStatus,
    MaterialRef,
    NotFound,
    Project,
    ProjectForm,
    Review,
    StageCase,
    StageRef,
    StageStatus,
)
from servicekit.aggregate import ConcurrentUpdate
from servicekit.mongo import save_versioned
from servicekit.timers import SessionTimers

PROJECTS, STAGES, BLOBS = "projects", "stages", "blobs"


async def ensure_indexes(db: AsyncDatabase[Any]) -> None:
    await db[STAGES].create_indexes([
        IndexModel([("status", ASCENDING), ("due_at", ASCENDING)], name="status_due"),
        IndexModel([("project_code", ASCENDING)], name="project"),
        IndexModel([("stage", ASCENDING), ("status", ASCENDING)], name="stage_status"),
    ])


@dataclass(frozen=True)
class MongoRepositories:
    projects: MongoProjects
    stages: MongoStages
    blobs: MongoBlobs
    timers: SessionTimers

    @classmethod
    def bind(cls, db: AsyncDatabase[Any], session: AsyncClientSession | None) -> MongoRepositories:
        return cls(MongoProjects(db, session), MongoStages(db, session), MongoBlobs(db, session),
                   SessionTimers(db, session))


class MongoBlobs:
    def __init__(self, db: AsyncDatabase[Any], session: AsyncClientSession | None) -> None:
        self.coll, self.session = db[BLOBS], session

    async def put(self, sha256: str, data: bytes) -> bool:
        res = await self.coll.update_one({"_id": sha256}, {"$setOnInsert": {"size": len(data), "data": Binary(data)}},
                                         upsert=True, session=self.session)
        return res.upserted_id is not None


class MongoProjects:
    def __init__(self, db: AsyncDatabase[Any], session: AsyncClientSession | None) -> None:
        self.coll, self.session = db[PROJECTS], session

    async def add(self, project: Project) -> None:
        try:
            await self.coll.insert_one(_project_doc(project), session=self.session)
        except DuplicateKeyError as exc:
            raise AlreadyExists(f"project {project.code} is registered",
                                [{"field": "form.project_code", "message": "already registered"}]) from exc
        project.version = 1

    async def get(self, code: str) -> Project:
        doc = await self.coll.find_one({"_id": code}, session=self.session)
        if doc is None:
            raise NotFound(f"no project {code}")
        return _project(doc)

    async def save(self, project: Project) -> None:
        doc = _project_doc(project)
        doc["version"] = project.version + 1
        res = await self.coll.replace_one({"_id": project.code, "version": project.version}, doc, session=self.session)
        if res.matched_count != 1:
            raise ConcurrentUpdate(f"project {project.code} changed meanwhile")
        project.version += 1


class MongoStages:
    def __init__(self, db: AsyncDatabase[Any], session: AsyncClientSession | None) -> None:
        self.coll, self.session = db[STAGES], session

    async def add(self, stage: StageCase) -> None:
        await self.coll.insert_one(_stage_doc(stage), session=self.session)
        stage.version = 1

    async def get(self, case_number: str) -> StageCase:
        doc = await self.coll.find_one({"_id": case_number}, session=self.session)
        if doc is None:
            raise NotFound(f"no stage {case_number}")
        return _stage(doc)

    async def get_many(self, case_numbers: list[str]) -> dict[str, StageCase]:
        docs = await self.coll.find({"_id": {"$in": case_numbers}}, session=self.session).to_list()
        return {d["_id"]: _stage(d) for d in docs}

    async def save(self, stage: StageCase) -> None:
        await self.save_many([stage])

    async def save_many(self, stages: list[StageCase]) -> None:
        await save_versioned(self.coll, [(s.case_number, _stage_doc(s), s) for s in stages], session=self.session,
                             what="stages")

    async def of_project(self, project_code: str) -> list[StageCase]:
        docs = await self.coll.find({"project_code": project_code}, session=self.session).to_list()
        return sorted((_stage(d) for d in docs), key=lambda s: s.declared_at)

    async def open_due_before(self, before: Any, limit: int) -> list[StageCase]:
        cursor = self.coll.find({"status": StageStatus.ACCEPTED.value, "due_at": {"$lte": before}},
                                session=self.session).sort([("status", ASCENDING), ("due_at", ASCENDING)]).limit(limit)
        return [_stage(d) for d in await cursor.to_list()]

    async def statistics(self) -> list[dict[str, Any]]:
        cursor = await self.coll.aggregate([
            {"$match": {"status": StageStatus.COMPLETED.value}},
            {"$group": {"_id": "$stage", "completed": {"$sum": 1},
                        "same_day": {"$sum": {"$cond": [{"$eq": ["$same_day", True]}, 1, 0]}}}},
        ], session=self.session)
        return [{"stage": r["_id"], "completed": r["completed"], "same_day": r["same_day"]} for r in await cursor.to_list()]


def _project_doc(p: Project) -> dict[str, Any]:
    return {"_id": p.code, "form": p.form.model_dump(mode="json"), "applicant_id": p.applicant_id,
            "applicant_phone": p.applicant_phone, "registered_at": p.registered_at,
            "materials": {k: asdict(v) for k, v in p.materials.items()}, "values": p.values,
            "stages": {k: asdict(v) for k, v in p.stages.items()}, "documents": p.documents,
            "completed_at": p.completed_at, "history": [asdict(h) for h in p.history], "version": p.version}


def _project(d: dict[str, Any]) -> Project:
    return Project(form=ProjectForm.model_validate(d["form"]), applicant_id=d["applicant_id"],
                   registered_at=d["registered_at"], applicant_phone=d.get("applicant_phone"),
                   materials={k: MaterialRef(**v) for k, v in d["materials"].items()}, values=d["values"],
                   stages={k: StageRef(**v) for k, v in d["stages"].items()}, documents=d["documents"],
                   completed_at=d.get("completed_at"), history=[Entry(**h) for h in d["history"]], version=d["version"])


def _stage_doc(s: StageCase) -> dict[str, Any]:
    return {
        "_id": s.case_number, "project_code": s.project_code, "project_name": s.project_name,
        "project_type": s.project_type, "stage": s.stage, "catalogue_version": s.catalogue_version,
        "time_limit_days": s.time_limit_days, "applicant_id": s.applicant_id, "channel": s.channel,
        "declared_at": s.declared_at,
        "items": [{"definition": i.definition.model_dump(), "status": i.status.value, "attempt": i.attempt,
                   "reviews": {d: asdict(r) for d, r in i.reviews.items()}, "reasons": i.reasons,
                   "requested_at": i.requested_at, "decided_at": i.decided_at, "due_at": i.due_at,
                   "document": i.document, "overdue": i.overdue} for i in s.items.values()],
        "field_defs": {k: v.model_dump() for k, v in s.field_defs.items()}, "material_labels": s.material_labels,
        "form": s.form, "materials": s.materials, "status": s.status.value, "accepted_at": s.accepted_at,
        "due_at": s.due_at, "closed_at": s.closed_at, "same_day": s.same_day, "staff_id": s.staff_id,
        "helper_id": s.helper_id, "missing": s.missing, "documents": s.documents, "warned": s.warned,
        "overdue": s.overdue, "correlation_id": s.correlation_id, "history": [asdict(h) for h in s.history],
        "version": s.version,
    }


def _item(d: dict[str, Any]) -> ItemState:
    return ItemState(definition=ItemDef.model_validate(d["definition"]), status=ItemStatus(d["status"]),
                     attempt=d["attempt"], reviews={k: Review(**v) for k, v in d["reviews"].items()},
                     reasons=d["reasons"], requested_at=d.get("requested_at"), decided_at=d.get("decided_at"),
                     due_at=d.get("due_at"), document=d.get("document"), overdue=d.get("overdue", False))


def _stage(d: dict[str, Any]) -> StageCase:
    items = [_item(i) for i in d["items"]]
    return StageCase(
        case_number=d["_id"], project_code=d["project_code"], project_name=d["project_name"],
        project_type=d["project_type"], stage=d["stage"], catalogue_version=d["catalogue_version"],
        time_limit_days=d["time_limit_days"], applicant_id=d["applicant_id"], channel=d["channel"],
        declared_at=d["declared_at"], items={i.code: i for i in items},
        field_defs={k: FieldDef.model_validate(v) for k, v in d["field_defs"].items()},
        material_labels=d["material_labels"], form=d["form"], materials=d["materials"],
        status=StageStatus(d["status"]), accepted_at=d.get("accepted_at"), due_at=d.get("due_at"),
        closed_at=d.get("closed_at"), same_day=d.get("same_day"), staff_id=d.get("staff_id"),
        helper_id=d.get("helper_id"), missing=d.get("missing", []), documents=d.get("documents", []),
        warned=d.get("warned", False), overdue=d.get("overdue", False), correlation_id=d.get("correlation_id", d["_id"]),
        history=[HistoryEntry(**h) for h in d.get("history", [])], version=d["version"])
