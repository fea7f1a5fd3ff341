"""The MongoDB unit of work: a service's typed repositories bound to one transaction,
the events it emits written to the outbox in the same commit (one row per transaction,
holding its events in order), and idempotent consumption.

Satisfies :class:`servicekit.ports.UnitOfWork`; a service builds it (through
:class:`servicekit.app.ServiceKit`) from one factory that binds its repositories to a
session::

    @dataclass
    class MongoRepositories:          # satisfies ports.Repositories, checked by mypy
        cases: MongoCaseRepository
        timers: SessionTimers

        @classmethod
        def bind(cls, db, session): return cls(MongoCaseRepository(db, session), SessionTimers(db, session))
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

import pymongo
from pymongo import AsyncMongoClient, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure, PyMongoError
from pymongo.write_concern import WriteConcern

from contracts import Event, topic_for
from servicekit import idempotency
from servicekit.aggregate import ConcurrentUpdate
from servicekit.mongo import OUTBOX, PROCESSED, SEQUENCES, outbox_event, outbox_rows
from servicekit.ports import Transaction
from servicekit.telemetry import current_traceparent, traceparent_for, tracer

R = TypeVar("R")
T = TypeVar("T")
E = TypeVar("E", bound=Event)
log = logging.getLogger(__name__)
_WRITE_CONFLICT = 112
_DUPLICATE_KEY = 11000

Bind = Callable[[AsyncDatabase[Any], AsyncClientSession | None], R]
"""Binds a service's repositories to a session (None: no transaction)."""


class _ConflictsPersist(ConcurrentUpdate):
    """The database kept reporting write conflicts for the whole transaction time: the
    driver already retried, so the use case is not run again."""


class MongoTx(Transaction[R]):
    """One transaction: ``repos`` bound to its session, and the events queued for the outbox."""

    def __init__(self, repos: R, session: AsyncClientSession) -> None:
        super().__init__(repos)
        self.session = session


class MongoUnitOfWork(Generic[R]):
    """Runs use cases in MongoDB transactions (``with_transaction`` retries transient
    errors and unknown commit results); ``on_commit`` is called after each commit that
    wrote events (it wakes the outbox relay)."""

    def __init__(self, bind: Bind[R], *, client: AsyncMongoClient[Any] | None = None,
                 db: AsyncDatabase[Any] | None = None, on_commit: Callable[[], None] | None = None,
                 conflict_attempts: int = 3, transaction_seconds: float = 10.0,
                 marker_retention: timedelta = timedelta(days=14)) -> None:
        """Built with the service (so use cases can be composed before the lifespan
        starts); :meth:`attach` gives it the client made in the lifespan."""
        self.bind = bind
        self._client, self._db = client, db
        self.on_commit = on_commit
        self.conflict_attempts = conflict_attempts
        self.transaction_seconds = transaction_seconds
        self.marker_retention = marker_retention  # processed-event markers expire (TTL) after this

    def attach(self, client: AsyncMongoClient[Any], db: AsyncDatabase[Any]) -> None:
        self._client, self._db = client, db

    @property
    def client(self) -> AsyncMongoClient[Any]:
        if self._client is None:
            raise RuntimeError("service not started: no database client yet")
        return self._client

    @property
    def db(self) -> AsyncDatabase[Any]:
        if self._db is None:
            raise RuntimeError("service not started: no database yet")
        return self._db

    async def run(self, fn: Callable[[MongoTx[R]], Awaitable[T]]) -> T:
        for attempt in range(1, self.conflict_attempts + 1):
            try:
                return await self._transaction(fn)
            except _ConflictsPersist:
                raise
            except ConcurrentUpdate:
                if attempt == self.conflict_attempts:
                    raise
                log.info("concurrent update, running the use case again (attempt %d)", attempt + 1)
        raise AssertionError("unreachable")

    async def consume(self, consumer: str, events: Sequence[E],
                      fn: Callable[[MongoTx[R], list[E]], Awaitable[T]]) -> T:
        async def work(tx: MongoTx[R]) -> T:
            session = tx.session
            ids = [e.event_id for e in events]
            done = {d["event_id"] for d in await self.db[PROCESSED].find(
                {"consumer": consumer, "event_id": {"$in": ids}}, {"event_id": 1}, session=session).to_list()}
            fresh: list[E] = []
            for e in events:
                if e.event_id not in done:
                    done.add(e.event_id)
                    fresh.append(e)
            if fresh:
                now = datetime.now(UTC)
                expires = now + self.marker_retention
                await self.db[PROCESSED].insert_many(
                    [{"consumer": consumer, "event_id": e.event_id, "at": now, "expires_at": expires} for e in fresh],
                    session=session)
            return await fn(tx, fresh)

        try:
            return await self.run(work)
        except DuplicateKeyError:  # another member of the group handled one of them meanwhile
            return await self.run(work)

    async def read(self, fn: Callable[[R], Awaitable[T]]) -> T:
        return await fn(self.bind(self.db, None))

    async def autocommit(self, fn: Callable[[R], Awaitable[T]]) -> T:
        return await fn(self.bind(self.db, None))

    async def within(self, session: AsyncClientSession, fn: Callable[[MongoTx[R]], Awaitable[T]]) -> T:
        """Run ``fn`` inside a transaction someone else owns and commits (the timer
        sweeper's claim); its events go into that transaction's outbox rows. The owner
        wakes the relay after its commit."""
        tx = MongoTx(self.bind(self.db, session), session)
        result = await fn(tx)
        await self._write_outbox(tx, session, current_traceparent())
        return result

    async def _transaction(self, fn: Callable[[MongoTx[R]], Awaitable[T]]) -> T:
        with tracer().start_as_current_span("mongo.transaction", attributes={"db.name": self.db.name}):
            traceparent = current_traceparent()
            wrote_events, conflicts = False, 0
            async with self.client.start_session() as session:

                async def body(s: AsyncClientSession) -> T:
                    nonlocal wrote_events, conflicts
                    tx = MongoTx(self.bind(self.db, s), s)
                    try:
                        result = await fn(tx)
                        wrote_events = await self._write_outbox(tx, s, traceparent)
                        await idempotency.record_in_transaction(s, result)  # an HTTP command's answer, same commit
                    except OperationFailure as exc:
                        conflicts += exc.code == _WRITE_CONFLICT
                        raise
                    return result

                try:  # the driver retries write conflicts itself: bounded here, then a conflict (409)
                    with pymongo.timeout(self.transaction_seconds):
                        result = await session.with_transaction(body, write_concern=WriteConcern("majority"))
                    idempotency.transaction_committed()
                except PyMongoError as exc:
                    if conflicts:  # the driver retried write conflicts until the time ran out
                        raise _ConflictsPersist(f"{conflicts} write conflicts in {self.transaction_seconds}s: "
                                                f"{exc}") from exc
                    raise  # a stalled or unreachable database: unavailable (HTTP 503), not a conflict
        if wrote_events and self.on_commit is not None:
            self.on_commit()
        return result

    async def _write_outbox(self, tx: MongoTx[R], session: AsyncClientSession, traceparent: str | None) -> bool:
        if not tx.events:
            return False
        now = datetime.now(UTC)
        events = await self._number(tx.events, session)
        # ONE row holding the transaction's events in emit order (several only past the row's bounds)
        rows = outbox_rows([outbox_event(e, traceparent_for(e.causation_id, traceparent)) for e in events], now)
        if len(rows) == 1:
            await self.db[OUTBOX].insert_one(rows[0], session=session)
        else:
            await self.db[OUTBOX].insert_many(rows, session=session)
        return True

    async def _number(self, events: Sequence[Event], session: AsyncClientSession) -> list[Event]:
        """Give each event of a sequenced topic its case's next ``case_seq``, in emit order:
        one read and one write of the cases' counters in this transaction (two transactions
        numbering one case conflict on the counter, and one runs again)."""
        cases = {e.case_number for e in events if e.case_seq is None and topic_for(e).sequenced}
        if not cases:
            return list(events)
        last = {d["_id"]: int(d["seq"]) for d in await self.db[SEQUENCES].find(
            {"_id": {"$in": sorted(cases)}}, session=session).to_list()}
        numbered: list[Event] = []
        for e in events:
            if e.case_number in cases and e.case_seq is None and topic_for(e).sequenced:
                last[e.case_number] = last.get(e.case_number, 0) + 1
                e = e.model_copy(update={"case_seq": last[e.case_number]})
            numbered.append(e)
        try:
            await self.db[SEQUENCES].bulk_write([UpdateOne({"_id": c}, {"$set": {"seq": last[c]}}, upsert=True)
                                                 for c in sorted(cases)], ordered=False, session=session)
        except BulkWriteError as exc:  # two transactions began a case's numbering at once: run again
            if any(err.get("code") == _DUPLICATE_KEY for err in exc.details.get("writeErrors", [])):
                raise ConcurrentUpdate(f"case sequence of {sorted(cases)} begun by another transaction") from exc
            raise
        return numbered


__all__ = ["Bind", "MongoTx", "MongoUnitOfWork"]
