"""MongoDB plumbing: client, transactions (unit of work), transactional outbox rows,
idempotent-consumer markers and leases. The only kit module that touches pymongo
besides ``timers``; services' repositories receive the session from here."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from pymongo import ASCENDING, AsyncMongoClient, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, PyMongoError
from pymongo.write_concern import WriteConcern

from contracts import Event, topic_for
from servicekit.telemetry import current_traceparent, tracer

T = TypeVar("T")
log = logging.getLogger(__name__)

OUTBOX = "outbox"
PROCESSED = "processed_events"
LEASES = "leases"


def make_client(uri: str) -> AsyncMongoClient:
    """Create inside a running event loop (the lifespan), never at import time."""
    return AsyncMongoClient(uri, tz_aware=True, serverSelectionTimeoutMS=5000, appname="one-window")


async def ensure_kit_indexes(db: AsyncDatabase) -> None:
    await db[OUTBOX].create_indexes([
        IndexModel([("status", ASCENDING), ("created_at", ASCENDING), ("idx", ASCENDING)]),
        # housekeeping of rows already sent (never used as a timer)
        IndexModel([("sent_at", ASCENDING)], expireAfterSeconds=7 * 24 * 3600),
    ])
    await db[PROCESSED].create_indexes([
        IndexModel([("consumer", ASCENDING), ("event_id", ASCENDING)], unique=True),
    ])


class AlreadyProcessed(Exception):
    """The event was already handled by this consumer; the transaction is dropped."""


def outbox_row(event: Event, idx: int, now: datetime, traceparent: str | None) -> dict[str, Any]:
    spec = topic_for(event)
    body, headers = event.to_wire()
    return {
        "_id": event.event_id,
        "topic": spec.name,
        "key": event.case_number,
        "body": body,
        "headers": headers,
        "traceparent": traceparent,
        "created_at": now,
        "idx": idx,
        "status": "pending",
    }


class Tx:
    """One transaction: repositories bound to the session, events into the outbox,
    and the consumer's processed-event marker, all committed together."""

    def __init__(self, db: AsyncDatabase, session: AsyncClientSession,
                 repositories: Mapping[str, Callable[[AsyncDatabase, AsyncClientSession], Any]]) -> None:
        self.db, self.session = db, session
        self._repositories = repositories
        self._built: dict[str, Any] = {}
        self.events: list[Event] = []

    def __getattr__(self, name: str) -> Any:
        factory = self.__dict__.get("_repositories", {}).get(name)
        if factory is None:
            raise AttributeError(name)
        if name not in self._built:
            self._built[name] = factory(self.db, self.session)
        return self._built[name]

    def emit(self, events: Iterable[Event]) -> None:
        """Queue events: written to the outbox in this transaction, published by the relay."""
        self.events.extend(events)

    async def processed_among(self, consumer: str, event_ids: list[str]) -> set[str]:
        """Which of ``event_ids`` ``consumer`` already handled (a batch consumer's idempotency check)."""
        docs = await self.db[PROCESSED].find({"consumer": consumer, "event_id": {"$in": event_ids}},
                                             {"event_id": 1}, session=self.session).to_list()
        return {d["event_id"] for d in docs}

    async def mark_processed_many(self, consumer: str, event_ids: list[str]) -> None:
        """Record a batch's new event ids (check them with :meth:`processed_among` first)."""
        now = datetime.now(UTC)
        await self.db[PROCESSED].insert_many([{"consumer": consumer, "event_id": e, "at": now} for e in event_ids],
                                             session=self.session)

    async def mark_processed(self, consumer: str, event_id: str) -> None:
        """Record that ``consumer`` handled ``event_id``; raises AlreadyProcessed on a repeat."""
        try:
            await self.db[PROCESSED].insert_one(
                {"consumer": consumer, "event_id": event_id, "at": datetime.now(UTC)}, session=self.session
            )
        except DuplicateKeyError as exc:
            raise AlreadyProcessed(event_id) from exc


class UnitOfWork:
    """Runs a callable in a MongoDB transaction, retrying transient errors and
    commit-unknown results (``with_transaction``); the outbox rows go in the same commit."""

    def __init__(self, client: AsyncMongoClient, db: AsyncDatabase,
                 repositories: Mapping[str, Callable[[AsyncDatabase, AsyncClientSession], Any]] | None = None,
                 on_commit: Callable[[], None] | None = None) -> None:
        self.client, self.db = client, db
        self.repositories = dict(repositories or {})
        self.on_commit = on_commit

    async def run(self, fn: Callable[[Tx], Awaitable[T]]) -> T | None:
        """Run ``fn(tx)`` atomically. Returns None when the consumer marker says the
        event was already processed."""
        with tracer().start_as_current_span("mongo.transaction", attributes={"db.name": self.db.name}):
            traceparent = current_traceparent()
            async with self.client.start_session() as session:

                async def body(s: AsyncClientSession) -> T:
                    tx = Tx(self.db, s, self.repositories)
                    result = await fn(tx)
                    if tx.events:
                        now = datetime.now(UTC)
                        rows = [outbox_row(e, i, now, traceparent) for i, e in enumerate(tx.events)]
                        await self.db[OUTBOX].insert_many(rows, session=s)
                    return result

                try:
                    result = await session.with_transaction(
                        body,
                        write_concern=WriteConcern("majority"),
                    )
                except AlreadyProcessed:
                    return None
        if self.on_commit is not None:
            self.on_commit()
        return result


    async def read(self, fn: Callable[[Tx], Awaitable[T]]) -> T:
        """Run ``fn(tx)`` with the repositories bound to no session: no transaction, for
        reads and for single-document writes that need no atomicity with anything else.
        ``tx.emit`` is refused here (events need the outbox in a transaction)."""
        tx = Tx(self.db, None, self.repositories)  # type: ignore[arg-type]
        result = await fn(tx)
        if tx.events:
            raise RuntimeError("events emitted outside a transaction: use UnitOfWork.run")
        return result

    async def within(self, session: AsyncClientSession, fn: Callable[[Tx], Awaitable[T]]) -> T:
        """Run ``fn`` inside a transaction someone else owns (e.g. the timer sweeper's claim);
        its outbox rows go into that same transaction."""
        traceparent = current_traceparent()
        tx = Tx(self.db, session, self.repositories)
        result = await fn(tx)
        if tx.events:
            now = datetime.now(UTC)
            await self.db[OUTBOX].insert_many([outbox_row(e, i, now, traceparent) for i, e in enumerate(tx.events)],
                                              session=session)
        if self.on_commit is not None:
            self.on_commit()
        return result


class Lease:
    """A named lease held by one replica at a time (a conditional upsert, no scans)."""

    def __init__(self, db: AsyncDatabase, name: str, owner: str, ttl: timedelta = timedelta(seconds=10)) -> None:
        self.db, self.name, self.owner, self.ttl = db, name, owner, ttl
        self._held_until: datetime | None = None

    async def acquire(self, now: datetime | None = None) -> bool:
        """Hold the lease: True if this owner has it. While more than half of the term is
        left no write is made (the holder renews in the second half)."""
        now = now or datetime.now(UTC)
        if self._held_until is not None and now < self._held_until - self.ttl / 2:
            return True
        self._held_until = None
        try:
            res = await self.db[LEASES].update_one(
                {"_id": self.name, "$or": [{"owner": self.owner}, {"until": {"$lt": now}}]},
                {"$set": {"owner": self.owner, "until": now + self.ttl}},
                upsert=True,
            )
        except DuplicateKeyError:
            return False
        except PyMongoError as exc:
            log.warning("lease %s not acquired: %s", self.name, exc)
            return False
        held = res.matched_count == 1 or res.upserted_id is not None
        if held:
            self._held_until = now + self.ttl
        return held

    async def release(self) -> None:
        self._held_until = None
        await self.db[LEASES].update_one({"_id": self.name, "owner": self.owner},
                                         {"$set": {"until": datetime.fromtimestamp(0, UTC)}})


async def sleep_or(event: asyncio.Event, seconds: float) -> None:
    """Wait until ``event`` is set or ``seconds`` pass; clears it."""
    try:
        await asyncio.wait_for(event.wait(), timeout=seconds)
    except TimeoutError:
        pass
    event.clear()
