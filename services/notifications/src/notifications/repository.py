"""The only module that touches pymongo; documents never leave it."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from notifications.domain import Message, MessageStatus

MESSAGES = "messages"


async def ensure_indexes(db: AsyncDatabase) -> None:
    await db[MESSAGES].create_indexes([IndexModel([("case_number", ASCENDING), ("created_at", ASCENDING)])])


class MongoMessageRepository:
    def __init__(self, db: AsyncDatabase, session: AsyncClientSession | None = None) -> None:
        self.coll, self.session = db[MESSAGES], session

    async def add(self, message: Message) -> None:
        doc = asdict(message)
        doc["_id"] = doc.pop("message_id")
        doc["status"] = message.status.value
        await self.coll.insert_one(doc, session=self.session)

    async def for_case(self, case_number: str) -> list[Message]:
        docs = await self.coll.find({"case_number": case_number}, session=self.session).sort(
            [("case_number", ASCENDING), ("created_at", ASCENDING)]).to_list()
        return [_from_doc(d) for d in docs]


def _from_doc(d: dict[str, Any]) -> Message:
    d = dict(d)
    d["message_id"] = d.pop("_id")
    d["status"] = MessageStatus(d["status"])
    return Message(**d)
