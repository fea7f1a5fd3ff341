"""The only module that touches pymongo; documents never leave it."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from registration.domain import Application, ApplicationStatus

APPLICATIONS = "applications"


async def ensure_indexes(db: AsyncDatabase) -> None:
    await db[APPLICATIONS].create_indexes([IndexModel([("applicant_id", ASCENDING)])])


class MongoApplicationRepository:
    def __init__(self, db: AsyncDatabase, session: AsyncClientSession | None = None) -> None:
        self.coll, self.session = db[APPLICATIONS], session

    async def add(self, application: Application) -> None:
        await self.coll.insert_one(_to_doc(application), session=self.session)

    async def get(self, application_id: str) -> Application | None:
        doc = await self.coll.find_one({"_id": application_id}, session=self.session)
        return _from_doc(doc) if doc else None


def _to_doc(a: Application) -> dict[str, Any]:
    return {"_id": a.application_id, "company_name": a.company_name, "applicant_id": a.applicant_id,
            "applicant_phone": a.applicant_phone, "channel": a.channel, "submitted_at": a.submitted_at,
            "status": a.status.value, "version": a.version}


def _from_doc(d: dict[str, Any]) -> Application:
    return Application(d["_id"], d["company_name"], d["applicant_id"], d.get("applicant_phone"), d["channel"],
                       d["submitted_at"], ApplicationStatus(d["status"]), d.get("version", 0))
