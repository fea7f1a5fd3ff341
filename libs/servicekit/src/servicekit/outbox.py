"""The outbox as a retained log: rows are written once (by the unit of work, in the state
change's transaction) and never updated; the relay records how far it has published in
ONE watermark document per service; rows are kept for a retention period, so that they
can be published again (:func:`republish`), and then deleted behind the watermark.

The relay itself (:class:`servicekit.messaging.OutboxRelay`) reads new rows from a change
stream, in commit order; this module is the storage side it shares with republishing:

- :class:`Position` — a row's place in the log, ``(created_at, idx, _id)``.
- :class:`RelayRecord` — the watermark: the change stream's resume token (commit order)
  and the position of the last row published, written once per relay pass.
- :func:`rows_between` / :func:`republish` — the retained rows of a time range, in order,
  published again with the same ``ce_id``, key and headers.
- :func:`backlog` — what the relay has not published yet and what is retained (``GET /ops/status``).
- :func:`delete_published` — retention: rows older than the retention period AND behind
  the watermark; never a TTL index (a TTL cannot tell a published row from one the relay
  has not reached).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from faststream.kafka import KafkaBroker
from pymongo import ASCENDING, AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from servicekit.mongo import OUTBOX, RELAY
from servicekit.telemetry import attached

ORDER = [("created_at", ASCENDING), ("idx", ASCENDING), ("_id", ASCENDING)]
NOT_SENT_BEFORE = {"status": {"$ne": "sent"}}  # rows of the earlier outbox already marked sent


@dataclass(frozen=True, order=True)
class Position:
    """Where a row sits in the log: its transaction's time, its index in the transaction, its id."""

    created_at: datetime
    idx: int
    id: str

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> Position:
        return cls(_utc(row["created_at"]), int(row.get("idx", 0)), str(row["_id"]))

    def to_doc(self) -> dict[str, Any]:
        return {"created_at": self.created_at, "idx": self.idx, "id": self.id}

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any] | None) -> Position | None:
        return None if not doc else cls(_utc(doc["created_at"]), int(doc["idx"]), str(doc["id"]))


@dataclass(frozen=True)
class Watermark:
    """What the relay recorded: resume after ``token``; ``position`` is the last row published."""

    token: Mapping[str, Any] | None
    position: Position | None
    recorded_at: datetime | None
    published: int = 0


class RelayRecord:
    """The relay's watermark: one document in ``outbox_relay``, one write per pass."""

    def __init__(self, db: AsyncDatabase, name: str = "outbox") -> None:
        self.db, self.name = db, name

    async def load(self) -> Watermark | None:
        doc = await self.db[RELAY].find_one({"_id": self.name})
        if doc is None:
            return None
        return Watermark(doc.get("token"), Position.from_doc(doc.get("position")),
                         _utc(doc["recorded_at"]) if doc.get("recorded_at") else None, int(doc.get("published", 0)))

    async def save(self, token: Mapping[str, Any] | None, position: Position | None, published: int) -> None:
        """Everything up to ``token`` (commit order) has been published; ``position`` is the last row."""
        fields: dict[str, Any] = {"token": token, "recorded_at": datetime.now(UTC)}
        if position is not None:
            fields["position"] = position.to_doc()
        await self.db[RELAY].update_one({"_id": self.name}, {"$set": fields, "$inc": {"published": published}},
                                        upsert=True)


async def publish_rows(broker: KafkaBroker, rows: Sequence[Mapping[str, Any]], *, prefix: str = "") -> None:
    """Publish ``rows`` as they were written (body, key, headers, trace), issued in order so
    that the producer keeps per-partition order, then wait for every acknowledgement.

    FastStream always writes a ``correlation_id`` header (a random id unless given one);
    it is given the event's ``ce_correlationid``, so that the two never differ."""
    futures = []
    for row in rows:
        with attached(row.get("traceparent")):
            futures.append(await broker.publish(row["body"], prefix + row["topic"], key=row["key"].encode(),
                                                headers=row["headers"], no_confirm=True,
                                                correlation_id=row["headers"].get("ce_correlationid")))
    await asyncio.gather(*futures)


def range_filter(since: datetime | None, until: datetime | None = None, topic: str | None = None,
                 *, unsent_only: bool = False) -> dict[str, Any]:
    """Rows created in ``[since, until)`` (either open), of ``topic`` if given."""
    created: dict[str, Any] = {}
    if since is not None:
        created["$gte"] = since
    if until is not None:
        created["$lt"] = until
    query: dict[str, Any] = {"created_at": created} if created else {}
    if topic is not None:
        query["topic"] = topic
    if unsent_only:
        query.update(NOT_SENT_BEFORE)
    return query


async def rows_between(db: AsyncDatabase, query: Mapping[str, Any], *, batch: int = 500,
                       limit: int | None = None) -> AsyncIterator[list[dict[str, Any]]]:
    """The rows matching ``query`` in log order (``created_at``, ``idx``), ``batch`` at a time
    (one cursor: no skip, no re-query per page)."""
    cursor = db[OUTBOX].find(query).sort(ORDER).batch_size(batch)
    if limit is not None:
        cursor = cursor.limit(limit)
    chunk: list[dict[str, Any]] = []
    async for row in cursor:
        chunk.append(row)
        if len(chunk) >= batch:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass(frozen=True)
class Republished:
    """What :func:`republish` did: ``published`` rows; when ``more``, the range goes on from ``next_since``."""

    published: int
    more: bool
    next_since: datetime | None
    first: Position | None = None
    last: Position | None = None


async def republish(db: AsyncDatabase, broker: KafkaBroker, *, since: datetime, until: datetime | None = None,
                    topic: str | None = None, limit: int = 10_000, batch: int = 500,
                    prefix: str = "") -> Republished:
    """Publish again the retained rows created in ``[since, until)`` (of ``topic`` if given), in
    log order, with their original ``ce_id``, key and headers; at most ``limit`` rows, each
    batch acknowledged before the next. Consumers are idempotent on ``ce_id``: what they
    already handled has no second effect, what the broker lost is handled now."""
    published, first, last, next_since = 0, None, None, None
    async for rows in rows_between(db, range_filter(since, until, topic), batch=batch, limit=limit + 1):
        if published + len(rows) > limit:
            next_since = _utc(rows[limit - published]["created_at"])
            rows = rows[:limit - published]
        if rows:
            await publish_rows(broker, rows, prefix=prefix)
            first = first or Position.of(rows[0])
            last = Position.of(rows[-1])
            published += len(rows)
    return Republished(published, next_since is not None, next_since, first, last)


@dataclass(frozen=True)
class Backlog:
    """The outbox as operators see it: rows not yet published (the oldest one's time) and rows kept."""

    pending: int
    oldest_pending_at: datetime | None
    retained: int


async def backlog(db: AsyncDatabase) -> Backlog:
    """Count the rows created after the last one the relay recorded as published (all unsent
    rows before its first pass) and the rows retained; one indexed count and one indexed
    lookup each, from any replica (the watermark is read, not the relay's memory)."""
    mark = await RelayRecord(db).load()
    query = (range_filter(None, unsent_only=True) if mark is None or mark.position is None
             else {"created_at": {"$gt": mark.position.created_at}})
    pending = await db[OUTBOX].count_documents(query)
    oldest = await db[OUTBOX].find_one(query, {"created_at": 1}, sort=ORDER) if pending else None
    retained = await db[OUTBOX].count_documents({})
    return Backlog(pending, _utc(oldest["created_at"]) if oldest else None, retained)


async def delete_published(db: AsyncDatabase, before: datetime, *, batch: int = 1000,
                           client: AsyncMongoClient | None = None) -> int:
    """Delete up to ``batch`` of the oldest rows created before ``before`` (the caller bounds it
    by the retention period AND the watermark). With ``client``, in one transaction: a bare
    multi-document write is one durable commit per document on SecantusDB."""
    ids = [d["_id"] for d in await db[OUTBOX].find({"created_at": {"$lt": before}}, {"_id": 1})
           .sort(ORDER).limit(batch).to_list()]
    if not ids:
        return 0
    if client is None:
        return (await db[OUTBOX].delete_many({"_id": {"$in": ids}})).deleted_count
    async with client.start_session() as session:

        async def delete(s: Any) -> int:
            return (await db[OUTBOX].delete_many({"_id": {"$in": ids}}, session=s)).deleted_count

        return int(await session.with_transaction(delete))


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


__all__ = ["Backlog", "Position", "RelayRecord", "Republished", "Watermark", "backlog", "delete_published",
           "publish_rows", "range_filter", "republish", "rows_between"]
