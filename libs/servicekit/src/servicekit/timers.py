"""Durable deadline timers swept by a poller, each fired exactly once across replicas.

Timers are documents in a MongoDB collection (default ``timers``)::

    {_id: key, kind, due_at, payload, status: "pending" | "fired", fired_at}

indexed on ``(status, due_at)``. TTL indexes are never used as timers.

Exactly once: :meth:`TimerStore.sweep_once` reads due pending timers (indexed query),
then for each one opens a transaction whose FIRST write is a conditional claim,
``update_one({_id, status: "pending", due_at <= now}, {$set: {status: "fired", ...}})``.
If nothing was modified another replica (or a reschedule/cancel) got there first: abort
and skip. Otherwise the handler runs with the same session and writes its effects inside
the transaction, and the claim and the effects commit together. A write conflict or a
``TransientTransactionError`` means a concurrent replica is firing the same timer: abort
and skip. A handler exception aborts the transaction: the timer stays pending and is
retried on the next sweep (so handlers must only write through the session they are
given; side effects outside the database belong in an outbox written in that session).
``find_one_and_update`` is deliberately not used (SecantusDB scans the whole collection).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from bson.codec_options import CodecOptions
from pymongo import ASCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, OperationFailure, PyMongoError

from servicekit.clock import Clock, ensure_utc
from servicekit.worker import Worker

log = logging.getLogger(__name__)

PENDING: Literal["pending"] = "pending"
FIRED: Literal["fired"] = "fired"
_WRITE_CONFLICT = 112


@dataclass(frozen=True)
class Timer:
    key: str
    kind: str
    due_at: datetime
    payload: Mapping[str, Any] = field(default_factory=dict)
    status: str = PENDING
    fired_at: datetime | None = None

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Timer:
        fired_at = doc.get("fired_at")
        return cls(
            key=doc["_id"],
            kind=doc["kind"],
            due_at=ensure_utc(doc["due_at"]),
            payload=dict(doc.get("payload") or {}),
            status=doc["status"],
            fired_at=ensure_utc(fired_at) if fired_at is not None else None,
        )


TimerHandler = Callable[[Timer, AsyncClientSession], Awaitable[None]]


def _is_concurrent_claim(exc: PyMongoError) -> bool:
    """A write conflict / transient transaction error: another replica is on it."""
    if exc.has_error_label("TransientTransactionError"):
        return True
    return isinstance(exc, OperationFailure) and exc.code == _WRITE_CONFLICT


class TimerStore:
    """Timers in one collection of ``db``. Datetimes go in and come out timezone-aware UTC."""

    def __init__(self, db: AsyncDatabase[Any], collection: str = "timers") -> None:
        self._client = db.client
        self.collection: AsyncCollection[Any] = db.get_collection(
            collection, codec_options=CodecOptions(tz_aware=True, tzinfo=UTC)
        )

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("status", ASCENDING), ("due_at", ASCENDING)], name="status_due_at")

    async def schedule(
        self,
        key: str,
        kind: str,
        due_at: datetime,
        payload: Mapping[str, Any] | None = None,
        *,
        session: AsyncClientSession | None = None,
    ) -> bool:
        """Arm timer ``key``, or move a pending one to ``due_at`` (kind and payload replaced).

        Returns False, changing nothing, if a timer with this key has already fired: a
        fired timer is never re-armed (use a new key for a new deadline).
        """
        due = ensure_utc(due_at)
        if session is not None and session.in_transaction:
            # A duplicate-key error would abort the caller's transaction: look first.
            existing = await self.collection.find_one({"_id": key}, {"status": 1}, session=session)
            if existing is not None and existing["status"] != PENDING:
                return False
        try:
            await self.collection.update_one(
                {"_id": key, "status": PENDING},
                {
                    "$set": {"kind": kind, "due_at": due, "payload": dict(payload or {})},
                    "$setOnInsert": {"fired_at": None},
                },
                upsert=True,
                session=session,
            )
        except DuplicateKeyError:
            return False  # the key exists but is not pending: already fired
        return True

    async def cancel(self, key: str, *, session: AsyncClientSession | None = None) -> bool:
        """Remove a pending timer. Returns False if there was none (unknown or already fired)."""
        result = await self.collection.delete_one({"_id": key, "status": PENDING}, session=session)
        return result.deleted_count == 1

    async def get(self, key: str, *, session: AsyncClientSession | None = None) -> Timer | None:
        doc = await self.collection.find_one({"_id": key}, session=session)
        return Timer.from_doc(doc) if doc is not None else None

    async def sweep_once(self, handler: TimerHandler, *, now: datetime, limit: int = 100) -> int:
        """Fire up to ``limit`` pending timers due at ``now``, earliest first. Returns how many fired here."""
        now = ensure_utc(now)
        cursor = (
            self.collection.find({"status": PENDING, "due_at": {"$lte": now}})
            .sort([("status", ASCENDING), ("due_at", ASCENDING)])
            .limit(limit)
        )
        due = await cursor.to_list(length=limit)
        fired = 0
        for doc in due:
            if await self._fire(doc["_id"], handler, now):
                fired += 1
        return fired

    async def _fire(self, key: str, handler: TimerHandler, now: datetime) -> bool:
        async with self._client.start_session() as session:
            await session.start_transaction()
            try:
                claim = await self.collection.update_one(
                    {"_id": key, "status": PENDING, "due_at": {"$lte": now}},
                    {"$set": {"status": FIRED, "fired_at": now}},
                    session=session,
                )
                if claim.modified_count == 0:
                    await session.abort_transaction()
                    return False  # fired by another replica, or rescheduled/cancelled meanwhile
                # Read back inside the transaction: kind/payload as of the claim.
                doc = await self.collection.find_one({"_id": key}, session=session)
                if doc is None:  # pragma: no cover - cannot happen after a successful claim
                    await session.abort_transaction()
                    return False
                await handler(Timer.from_doc(doc), session)
                await session.commit_transaction()
            except PyMongoError as exc:
                if session.in_transaction:
                    await session.abort_transaction()
                if _is_concurrent_claim(exc):
                    log.debug("timer %s: concurrent claim, skipped (%s)", key, exc)
                elif exc.has_error_label("UnknownTransactionCommitResult"):
                    # Claim and effects commit together: either both are in or the timer is
                    # still pending and the next sweep fires it.
                    log.warning("timer %s: commit result unknown, next sweep will tell (%s)", key, exc)
                else:
                    log.exception("timer %s: database error, left pending for the next sweep", key)
                return False
            except Exception:
                if session.in_transaction:
                    await session.abort_transaction()
                log.exception("timer %s: handler failed, left pending for the next sweep", key)
                return False
            return True


class SessionTimers:
    """The timer store bound to one transaction's session (a unit-of-work repository)."""

    def __init__(self, db: AsyncDatabase[Any], session: AsyncClientSession | None = None,
                 collection: str = "timers") -> None:
        self.store, self.session = TimerStore(db, collection), session

    async def schedule(self, key: str, kind: str, due_at: datetime, payload: Mapping[str, Any] | None = None) -> bool:
        return await self.store.schedule(key, kind, due_at, payload, session=self.session)

    async def cancel(self, key: str) -> bool:
        return await self.store.cancel(key, session=self.session)

    async def schedule_new(self, timers: list[tuple[str, str, datetime, Mapping[str, Any]]]) -> None:
        """Arm timers whose keys cannot exist yet (e.g. the deadlines of a case accepted just
        now) with one insert: ``[(key, kind, due_at, payload)]``. A key that exists is an error."""
        await self.store.collection.insert_many(
            [{"_id": k, "kind": kind, "due_at": ensure_utc(due), "payload": dict(payload), "status": PENDING,
              "fired_at": None} for k, kind, due, payload in timers], session=self.session)

    async def cancel_many(self, keys: list[str]) -> int:
        """Remove the pending timers among ``keys`` in one statement; returns how many."""
        res = await self.store.collection.delete_many({"_id": {"$in": keys}, "status": PENDING}, session=self.session)
        return res.deleted_count


class Sweeper:
    """Runs :meth:`TimerStore.sweep_once` every ``interval`` seconds as a
    :class:`~servicekit.worker.Worker`; ``now`` comes from ``clock``. A sweep that fills
    its ``limit`` is followed by another at once (draining a backlog). ``after_fired(n)``
    runs after a sweep that fired timers, once their transactions have committed (the
    kit wakes the outbox relay there)."""

    def __init__(
        self,
        store: TimerStore,
        handler: TimerHandler,
        *,
        clock: Clock,
        interval: float = 5.0,
        limit: int = 100,
        after_fired: Callable[[int], None] | None = None,
    ) -> None:
        self.store, self.handler, self.clock, self.limit = store, handler, clock, limit
        self.worker = Worker("timer-sweeper", self.sweep, interval=interval, batch=limit, after_pass=after_fired)

    async def sweep(self) -> int:
        return await self.store.sweep_once(self.handler, now=self.clock.now(), limit=self.limit)

    @property
    def fired_total(self) -> int:
        return self.worker.done

    @property
    def running(self) -> bool:
        return self.worker.running

    def start(self) -> None:
        self.worker.start()

    async def stop(self, timeout: float = 10.0) -> None:
        await self.worker.stop(timeout)


__all__ = ["FIRED", "PENDING", "SessionTimers", "Sweeper", "Timer", "TimerHandler", "TimerStore"]
