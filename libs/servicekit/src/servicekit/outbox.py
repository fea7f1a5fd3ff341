"""The outbox as a retained log: rows are written once (by the unit of work, in the state
change's transaction) and never updated; a row holds its transaction's events in emit order
(``events``, ``n`` of them; :func:`servicekit.mongo.outbox_rows`); the relay records how far it has published in
ONE watermark document per service; rows are kept for a retention period, so that they
can be published again (:func:`republish`), and then deleted behind the watermark.

The relay itself (:class:`servicekit.messaging.OutboxRelay`) reads new rows from a change
stream, in commit order; this module is the storage side it shares with republishing:

- :class:`Position` — a row's place in the log, ``(created_at, idx, _id)``.
- :func:`events_of` — a row's events in order (a row of the earlier shape is one event);
  :func:`find_events` — the retained events of a case or topic, in log order.
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


def events_of(row: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """A row's events in the order they were emitted. A row written before rows held their
    transaction's events (one event per row: ``topic``, ``key``, ``body`` ... at the top) is
    its own one event."""
    events = row.get("events")
    return list(events) if events is not None else [row]


def count_events(rows: Sequence[Mapping[str, Any]]) -> int:
    return sum(len(events_of(row)) for row in rows)


async def publish_rows(broker: KafkaBroker, rows: Sequence[Mapping[str, Any]], *, prefix: str = "",
                       topic: str | None = None) -> int:
    """Publish every event of ``rows`` as it was written (body, key, headers, its own trace),
    issued in log order so that the producer keeps per-partition order, then wait for every
    acknowledgement; with ``topic``, only that topic's events. Returns how many were published.

    FastStream always writes a ``correlation_id`` header (a random id unless given one);
    it is given the event's ``ce_correlationid``, so that the two never differ."""
    futures = []
    for row in rows:
        for event in events_of(row):
            if topic is not None and event["topic"] != topic:
                continue
            with attached(event.get("traceparent")):
                futures.append(await broker.publish(event["body"], prefix + event["topic"],
                                                    key=event["key"].encode(), headers=event["headers"],
                                                    no_confirm=True,
                                                    correlation_id=event["headers"].get("ce_correlationid")))
    await asyncio.gather(*futures)
    return len(futures)


def range_filter(since: datetime | None, until: datetime | None = None, topic: str | None = None,
                 *, unsent_only: bool = False) -> dict[str, Any]:
    """Rows created in ``[since, until)`` (either open), of ``topic`` if given."""
    created: dict[str, Any] = {}
    if since is not None:
        created["$gte"] = since
    if until is not None:
        created["$lt"] = until
    query: dict[str, Any] = {"created_at": created} if created else {}
    if topic is not None:  # a row holding an event of the topic (or, of the earlier shape, being one)
        query["$or"] = [{"events.topic": topic}, {"topic": topic}]
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
    """What :func:`republish` did: ``published`` events; when ``more``, the range goes on from
    ``next_since``. ``first``/``last`` are the positions of the rows of the first and last
    event published, with that event's ``ce_id`` as their ``id``."""

    published: int
    more: bool
    next_since: datetime | None
    first: Position | None = None
    last: Position | None = None


async def republish(db: AsyncDatabase, broker: KafkaBroker, *, since: datetime, until: datetime | None = None,
                    topic: str | None = None, limit: int = 10_000, batch: int = 500,
                    prefix: str = "") -> Republished:
    """Publish again the retained events whose rows were created in ``[since, until)`` (of
    ``topic`` if given), in log order, with their original ``ce_id``, key and headers; at most
    ``limit`` events, each batch of rows acknowledged before the next. When the limit stops
    inside a row, ``next_since`` is that row's time: going on from there publishes the row's
    earlier events once more, which consumers, idempotent on ``ce_id``, do not act on twice;
    what the broker lost is handled now."""
    published, first, last, next_since = 0, None, None, None
    # every row of the range holds at least one event of it: limit + 1 rows are enough to tell `more`
    async for rows in rows_between(db, range_filter(since, until, topic), batch=batch, limit=limit + 1):
        chosen: list[dict[str, Any]] = []
        for row in rows:
            events = [e for e in events_of(row) if topic is None or e["topic"] == topic]
            if published + len(chosen) + len(events) > limit:
                events = events[:limit - published - len(chosen)]
                next_since = _utc(row["created_at"])
            if events:
                chosen.append({**_position_doc(row), "events": events})
            if next_since is not None:
                break
        if chosen:
            published += await publish_rows(broker, chosen, prefix=prefix)
            first = first or _event_position(chosen[0], chosen[0]["events"][0])
            last = _event_position(chosen[-1], chosen[-1]["events"][-1])
        if next_since is not None:
            break
    return Republished(published, next_since is not None, next_since, first, last)


async def find_events(db: AsyncDatabase, *, key: str | None = None, topic: str | None = None,
                      session: Any = None) -> list[dict[str, Any]]:
    """The retained events of case ``key`` (and/or of ``topic``), in log order, each with its
    row's ``created_at`` and ``idx``: what a transaction wrote, for tests and operators. Not
    indexed (an index on ``events.key`` would cost every insert one entry per event): a scan
    of the retained rows, not for a request path."""
    query: dict[str, Any] = {}  # rows holding such an event (or, of the earlier shape, being one)
    if key is not None:
        query = {"$or": [{"events.key": key}, {"key": key}]}
    elif topic is not None:
        query = {"$or": [{"events.topic": topic}, {"topic": topic}]}
    found: list[dict[str, Any]] = []
    async for row in db[OUTBOX].find(query, session=session).sort(ORDER):
        for event in events_of(row):
            if (key is None or event["key"] == key) and (topic is None or event["topic"] == topic):
                found.append({**event, "created_at": row["created_at"], "idx": row.get("idx", 0)})
    return found


async def pending_events(db: AsyncDatabase, after: datetime | None) -> int:
    """Events in rows created after ``after`` (all rows not marked sent by the earlier
    outbox when None): the relay's backlog, one aggregation."""
    query = range_filter(None, unsent_only=True) if after is None else {"created_at": {"$gt": after}}
    pipeline: list[dict[str, Any]] = [{"$match": query}, {"$group": {"_id": None, "n": {"$sum": {"$ifNull": ["$n", 1]}}}}]
    found = await (await db[OUTBOX].aggregate(pipeline)).to_list()
    return int(found[0]["n"]) if found else 0


def _position_doc(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"_id": row["_id"], "created_at": row["created_at"], "idx": row.get("idx", 0)}


def _event_position(row: Mapping[str, Any], event: Mapping[str, Any]) -> Position:
    return Position(_utc(row["created_at"]), int(row.get("idx", 0)), str(event["_id"]))


@dataclass(frozen=True)
class Backlog:
    """The outbox as operators see it: rows not yet published (the oldest one's time) and rows kept."""

    pending: int
    oldest_pending_at: datetime | None
    retained: int


async def backlog(db: AsyncDatabase) -> Backlog:
    """Count the events in rows created after the last one the relay recorded as published
    (all unsent rows before its first pass; the record may lag by ``outbox_record_seconds``)
    and the rows retained (one per transaction); from any replica (the watermark is read,
    not the relay's memory)."""
    mark = await RelayRecord(db).load()
    after = None if mark is None or mark.position is None else mark.position.created_at
    query = range_filter(None, unsent_only=True) if after is None else {"created_at": {"$gt": after}}
    pending = await pending_events(db, after)
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


__all__ = ["Backlog", "Position", "RelayRecord", "Republished", "Watermark", "backlog", "count_events",
           "delete_published", "events_of", "find_events", "pending_events", "publish_rows", "range_filter",
           "republish", "rows_between"]
