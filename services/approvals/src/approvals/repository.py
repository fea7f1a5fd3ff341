"""MongoDB adapters of the ports (MongoRepositories satisfies ports.Repositories): the only module that
imports pymongo; ``_id`` and documents never leave it."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase


class MongoRepositories:
    @classmethod
    def bind(cls, db: AsyncDatabase[Any], session: AsyncClientSession | None) -> MongoRepositories:
        return cls()
