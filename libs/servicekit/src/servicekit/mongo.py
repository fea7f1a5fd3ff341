"""MongoDB plumbing: the client, the kit's collections and indexes (outbox, the outbox
relay's watermark, idempotent-consumer markers, leases), outbox rows and leases. The unit
of work that writes them is :mod:`servicekit.uow`; the retained outbox log (watermark,
republishing, retention) is :mod:`servicekit.outbox`."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from pymongo import ASCENDING, AsyncMongoClient, IndexModel, ReplaceOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, OperationFailure, PyMongoError

from contracts import Event, topic_for
from servicekit.aggregate import Aggregate, ConcurrentUpdate

T = TypeVar("T")
log = logging.getLogger(__name__)

OUTBOX = "outbox"
RELAY = "outbox_relay"  # the relay's watermark: one small document per service database
PROCESSED = "processed_events"
LEASES = "leases"
SEQUENCES = "case_sequences"  # per case: the last case_seq given to its events (contracts' TopicSpec.sequenced)
# Indexes of the earlier outbox (a "status" per row, flipped to "sent"; a TTL on sent_at).
_LEGACY_OUTBOX_INDEXES = ("status_1_created_at_1_idx_1", "sent_at_1")


def make_client(uri: str) -> AsyncMongoClient:
    """Create inside a running event loop (the lifespan), never at import time."""
    return AsyncMongoClient(uri, tz_aware=True, serverSelectionTimeoutMS=5000, appname="one-window")


async def ensure_kit_indexes(db: AsyncDatabase) -> None:
    # Rows are never updated: the relay reads new rows from a change stream and records a
    # watermark; this index serves republishing, catching up and retention (by time).
    await db[OUTBOX].create_indexes([IndexModel([("created_at", ASCENDING), ("idx", ASCENDING)], name="created_at_idx")])
    existing = {ix["name"] async for ix in await db[OUTBOX].list_indexes()}
    for name in _LEGACY_OUTBOX_INDEXES:  # every insert would still pay for them
        if name in existing:
            try:
                await db[OUTBOX].drop_index(name)
            except OperationFailure as exc:  # another replica dropped it first
                log.info("outbox index %s not dropped here: %s", name, exc)
    await db[PROCESSED].create_indexes([
        IndexModel([("consumer", ASCENDING), ("event_id", ASCENDING)], unique=True),
        # markers expire after the service's marker retention (longer than the outbox's, so
        # that a republished event is still recognised): housekeeping, like MongoDB's TTL
        IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="retention"),
    ])


OUTBOX_EVENTS_PER_ROW = 500
"""At most this many events in one outbox row; a transaction that emits more writes several rows."""
OUTBOX_ROW_BYTES = 4 * 2**20
"""About this many bytes of events in one outbox row at most (MongoDB refuses documents over
16 MiB; an event bigger than this on its own gets a row to itself)."""


def outbox_event(event: Event, traceparent: str | None) -> dict[str, Any]:
    """One event of an outbox row, as it goes on the wire: its ``ce_id``, topic, key (the case
    number), body, headers, and the trace it continues."""
    body, headers = event.to_wire()
    return {"_id": event.event_id, "topic": topic_for(event).name, "key": event.case_number, "body": body,
            "headers": headers, "traceparent": traceparent}


def _size(entry: dict[str, Any]) -> int:
    return (len(entry["body"]) + sum(len(k) + len(v) for k, v in entry["headers"].items())
            + len(entry["_id"]) + len(entry["topic"]) + len(entry["key"]) + 128)


def outbox_rows(entries: list[dict[str, Any]], now: datetime, *, max_events: int = OUTBOX_EVENTS_PER_ROW,
                max_bytes: int = OUTBOX_ROW_BYTES) -> list[dict[str, Any]]:
    """A transaction's events (:func:`outbox_event`, in emit order) as outbox rows: ONE row
    holding them all, unless they exceed ``max_events`` or ``max_bytes``, then consecutive
    rows (``idx`` 0, 1, ...). A row's ``_id`` is its first event's ``ce_id`` (unique);
    ``n`` is how many events it holds."""
    rows: list[dict[str, Any]] = []
    chunk: list[dict[str, Any]] = []
    size = 0
    for entry in entries:
        grown = _size(entry)
        if chunk and (len(chunk) >= max_events or size + grown > max_bytes):
            rows.append(_row(chunk, now, len(rows)))
            chunk, size = [], 0
        chunk.append(entry)
        size += grown
    if chunk:
        rows.append(_row(chunk, now, len(rows)))
    return rows


def _row(events: list[dict[str, Any]], now: datetime, idx: int) -> dict[str, Any]:
    return {"_id": events[0]["_id"], "created_at": now, "idx": idx, "n": len(events), "events": events}


def outbox_row(event: Event, idx: int, now: datetime, traceparent: str | None) -> dict[str, Any]:
    """A row holding the one ``event`` (a transaction that emitted only it)."""
    return _row([outbox_event(event, traceparent)], now, idx)


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


async def save_versioned(coll: AsyncCollection[Any], items: list[tuple[str, dict[str, Any], Aggregate]], *,
                         session: AsyncClientSession | None, what: str = "records") -> None:
    """Replace each aggregate's document (``_id`` = its key) only where the stored version is still
    the one it was read at, in one bulk write; every version moves on by one. Any document changed
    meanwhile: :class:`ConcurrentUpdate` (the unit of work runs the use case again)."""
    if not items:
        return
    ops = [ReplaceOne({"_id": key, "version": agg.version}, {**doc, "version": agg.version + 1})
           for key, doc, agg in items]
    res = await coll.bulk_write(ops, ordered=True, session=session)
    if res.matched_count != len(ops):
        raise ConcurrentUpdate(f"{len(ops) - res.matched_count} {what} changed meanwhile")
    for _key, _doc, agg in items:
        agg.version += 1
