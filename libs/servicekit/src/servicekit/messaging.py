"""Kafka plumbing: broker factory, outbox relay, and event subscribers with bounded
retries, idempotency hooks and a dead-letter topic."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure
from tenacity import AsyncRetrying, retry_if_not_exception_type, stop_after_attempt, wait_exponential_jitter

from contracts import Event, InvalidEvent, dead_letter_topic, topic_for
from servicekit.config import ServiceSettings
from servicekit.mongo import OUTBOX, Lease
from servicekit.outbox import (
    Position,
    RelayRecord,
    delete_published,
    events_of,
    pending_events,
    publish_rows,
    range_filter,
    rows_between,
)
from servicekit.telemetry import RepeatFilter, cause_traces, link_to, tracer
from servicekit.unavailable import is_unavailable
from servicekit.worker import Worker

E = TypeVar("E", bound=Event)
log = logging.getLogger(__name__)
log.addFilter(RepeatFilter())  # a failure that repeats (an outage) is logged once per 30 s


def make_broker(settings: ServiceSettings, middlewares: Sequence[Any] = ()) -> KafkaBroker:
    """acks=all always; idempotence is a setting (on by default; Tansu cannot). The
    broker's log repeats a failure at most once per 30 s (with the count it held back)."""
    logger = logging.getLogger(f"{settings.service_name}.broker")
    if not any(isinstance(f, RepeatFilter) for f in logger.filters):
        logger.addFilter(RepeatFilter())
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        acks="all",
        enable_idempotence=settings.kafka_enable_idempotence,
        client_id=settings.service_name,
        metadata_max_age_ms=settings.kafka_metadata_max_age_ms,
        middlewares=[KafkaTelemetryMiddleware(), *middlewares],
        logger=logger,
        log_level=logging.DEBUG,
    )


# -- poison never loops and is never dropped -------------------------------------------------
# FastStream parses a record (its headers as UTF-8) and decodes its body (JSON, by the
# content-type) before any handler runs; a failure there is retried forever. The kit's
# subscribers therefore parse with headers that always decode, keep the original record as
# ``raw_message``, never decode the body in FastStream, and decode it themselves from the
# raw record (contracts' ``Event.from_wire``), dead-lettering what is not an event.
def _utf8_headers(record: Any) -> Any:
    try:
        for _, value in record.headers or ():
            value.decode()
        return record
    except UnicodeDecodeError:
        return dataclasses.replace(record, headers=[(k, v.decode(errors="replace").encode())
                                                    for k, v in record.headers])


async def _parse_record(record: Any, original: Callable[[Any], Awaitable[Any]]) -> Any:
    msg = await original(_utf8_headers(record))
    msg.raw_message = record
    return msg


async def _parse_batch(records: tuple[Any, ...], original: Callable[[Any], Awaitable[Any]]) -> Any:
    msg = await original(tuple(_utf8_headers(r) for r in records))
    msg.raw_message = records
    return msg


async def _undecoded(msg: Any, original: Callable[[Any], Awaitable[Any]]) -> Any:
    return msg.body


def _headers(record: Any) -> dict[str, bytes]:
    return {k: v for k, v in (record.headers or ())}


def _from_record(cls: type[E], record: Any) -> E:
    """The event in a consumed record (an aiokafka ConsumerRecord); InvalidEvent if it is none."""
    return cls.from_wire(record.value, _headers(record))


class PermanentFailure(Exception):
    """Raise from a handler when retrying cannot help: the event goes straight to the DLQ."""


class DeadLetters:
    """Publishes a message that could not be handled, with the reason, the original
    headers and where it came from; the consumer then moves on."""

    def __init__(self, broker: KafkaBroker, service: str, on_dead_letter: Callable[[str], None] | None = None,
                 max_value_bytes: int = 900_000, prefix: str = "") -> None:
        """A value over ``max_value_bytes`` (the topic's limit is about 1 MB) is kept
        truncated, with its size and SHA-256 in headers, rather than dropped."""
        self.broker, self.topic, self.service = broker, prefix + dead_letter_topic(service), service
        self.on_dead_letter = on_dead_letter
        self.max_value_bytes = max_value_bytes

    async def send(self, msg: Any, reason: str, group: str) -> None:
        """Dead-letter the message a subscriber received (FastStream's KafkaMessage)."""
        await self.send_record(msg.raw_message, reason, group)

    async def send_record(self, rec: Any, reason: str, group: str) -> None:
        """Dead-letter one consumed record (an aiokafka ConsumerRecord): its value, its
        headers, and the reason and origin in ``dlq_*`` headers."""
        headers = {k: v.decode(errors="replace") for k, v in (rec.headers or ())}
        headers.update({
            "dlq_reason": reason[:2000],
            "dlq_source_topic": str(rec.topic),
            "dlq_source_partition": str(rec.partition),
            "dlq_source_offset": str(rec.offset),
            "dlq_consumer_group": group,
            "dlq_at": datetime.now(UTC).isoformat(),
        })
        value: bytes = rec.value or b""
        if len(value) > self.max_value_bytes:
            headers.update({"dlq_value_truncated": "true", "dlq_value_size": str(len(value)),
                            "dlq_value_sha256": hashlib.sha256(value).hexdigest()})
            value = value[: self.max_value_bytes]
        await self.broker.publish(value, self.topic, key=rec.key, headers=headers,
                                  correlation_id=headers.get("ce_correlationid"))
        if self.on_dead_letter is not None:
            self.on_dead_letter(str(rec.topic))
        log.warning("dead-lettered %s[%s]@%s: %s", rec.topic, rec.partition, rec.offset, reason)


def _consumer(
    settings: ServiceSettings,
    parse: Callable[[KafkaMessage], Event],
    handler: Callable[[Any], Awaitable[Any]],
    group: str,
    dlq: DeadLetters,
    permanent: tuple[type[BaseException], ...] = (),
) -> Callable[[KafkaMessage], Awaitable[None]]:
    """The message handler shared by :func:`subscribe` and :func:`subscribe_many`."""

    async def consume(msg: KafkaMessage) -> None:
        try:
            event = parse(msg)
        except InvalidEvent as exc:
            await dlq.send(msg, str(exc), group)
            return
        try:
            async for attempt in _retrying(settings, permanent):
                with attempt:
                    await handler(event)
        except Exception as exc:
            await _unavailable_or(exc, settings)
            await dlq.send(msg, f"{type(exc).__name__}: {exc}", group)

    consume.__name__ = f"{group}__{handler.__name__}"
    consume.__doc__ = handler.__doc__
    return consume


async def _unavailable_or(exc: Exception, settings: ServiceSettings) -> None:
    """A handler failed for good. If the database or broker is away (not the event's
    fault), back off and re-raise: the offset stays uncommitted and the event is read
    again (never dead-lettered for an outage). Otherwise return: the caller dead-letters."""
    if is_unavailable(exc):
        log.warning("infrastructure unavailable (%s); the event will be read again", type(exc).__name__)
        await asyncio.sleep(settings.unavailable_backoff_seconds)
        raise exc


def _retrying(settings: ServiceSettings, permanent: tuple[type[BaseException], ...] = ()) -> AsyncRetrying:
    """Bounded retries of a handler; a PermanentFailure (or one of ``permanent``) is not retried."""
    return AsyncRetrying(stop=stop_after_attempt(settings.consumer_max_attempts),
                         wait=wait_exponential_jitter(multiplier=0.05, max=2),
                         retry=retry_if_not_exception_type((PermanentFailure, *permanent)), reraise=True)


def _subscriber(broker: KafkaBroker, settings: ServiceSettings, topics: list[str], group: str,
                consume: Callable[[KafkaMessage], Awaitable[None]], title: str, **options: Any) -> Any:
    return broker.subscriber(
        *topics,
        group_id=group,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        session_timeout_ms=settings.kafka_session_timeout_ms,
        heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
        title=title,
        description=consume.__doc__,
        parser=_parse_batch if options.get("batch") else _parse_record,
        decoder=_undecoded,
        **options,
    )(consume)


def subscribe(
    broker: KafkaBroker,
    settings: ServiceSettings,
    event_cls: type[E],
    handler: Callable[[E], Awaitable[Any]],
    *,
    group: str | None = None,
    dead_letters: DeadLetters | None = None,
    permanent: tuple[type[BaseException], ...] = (),
) -> Any:
    """Subscribe ``handler`` to the event's topic under consumer group ``group``
    (default: the service name). Invalid messages and handlers failing after
    ``consumer_max_attempts`` go to the dead-letter topic, at once for an exception of a
    ``permanent`` type (retrying cannot help); the offset is committed only after the
    handler or the dead-letter publish succeeded (at least once)."""
    name = settings.kafka_topic_prefix + topic_for(event_cls).name
    group = group or settings.kafka_topic_prefix + settings.service_name
    dlq = dead_letters or DeadLetters(broker, settings.service_name, prefix=settings.kafka_topic_prefix)
    consume = _consumer(settings, lambda msg: _from_record(event_cls, msg.raw_message),
                        handler, group, dlq, permanent)
    return _subscriber(broker, settings, [name], group, consume, f"{group}:{name}")


def subscribe_many(
    broker: KafkaBroker,
    settings: ServiceSettings,
    event_classes: Sequence[type[Event]],
    handler: Callable[[Any], Awaitable[Any]],
    *,
    group: str | None = None,
    dead_letters: DeadLetters | None = None,
    permanent: tuple[type[BaseException], ...] = (),
) -> Any:
    """Like :func:`subscribe`, but ONE consumer reads the topics of all ``event_classes``
    and parses each message by its ``ce_type`` header (an unknown type is dead-lettered).

    Use it when a service consumes many topics in one group: every group member joins
    (and rebalances) the group on start, so one consumer per topic makes start-up grow
    with the number of topics (about 2 s per topic on the embedded broker)."""
    group = group or settings.kafka_topic_prefix + settings.service_name
    dlq = dead_letters or DeadLetters(broker, settings.service_name, prefix=settings.kafka_topic_prefix)
    by_type = {cls.ce_type: cls for cls in event_classes}

    def parse(msg: KafkaMessage) -> Event:
        record: Any = msg.raw_message
        ce_type = _headers(record).get("ce_type", b"").decode(errors="replace")
        cls = by_type.get(ce_type)
        if cls is None:
            raise InvalidEvent(f"ce_type is {ce_type or None!r}, expected one of {sorted(by_type)}")
        return _from_record(cls, record)

    topics = list(dict.fromkeys(settings.kafka_topic_prefix + topic_for(cls).name for cls in event_classes))
    consume = _consumer(settings, parse, handler, group, dlq, permanent)
    return _subscriber(broker, settings, topics, group, consume, f"{group}:{'+'.join(topics)}")


def subscribe_batch(
    broker: KafkaBroker,
    settings: ServiceSettings,
    event_cls: type[E],
    handler: Callable[[list[E]], Awaitable[Mapping[int, str] | None]],
    *,
    group: str | None = None,
    dead_letters: DeadLetters | None = None,
    max_records: int = 100,
) -> Any:
    """Like :func:`subscribe`, but ``handler`` gets the events of one fetch (up to
    ``max_records``, in partition order) at once, to handle them in ONE transaction:
    under load a fetch holds many events, and the per-event round trips to the database
    are what bind a consumer that takes one at a time.

    ``handler`` returns ``{index: reason}`` for events it refused for good (they are
    dead-lettered, the rest is committed); an exception retries the whole batch, and when
    the retries are spent every event of the batch is dead-lettered. Invalid messages are
    dead-lettered before the handler sees the batch."""
    return subscribe_many_batch(broker, settings, [event_cls], handler, group=group, dead_letters=dead_letters,
                                max_records=max_records)


def subscribe_many_batch(
    broker: KafkaBroker,
    settings: ServiceSettings,
    event_classes: Sequence[type[Event]],
    handler: Callable[[list[Any]], Awaitable[Mapping[int, str] | None]],
    *,
    group: str | None = None,
    dead_letters: DeadLetters | None = None,
    max_records: int = 100,
) -> Any:
    """:func:`subscribe_batch` over the topics of all ``event_classes`` through ONE consumer
    (as :func:`subscribe_many`): each fetch's events, parsed by their ``ce_type``, in the
    order the fetch returned them (partition order within each topic-partition)."""
    names = list(dict.fromkeys(topic_for(cls).name for cls in event_classes))
    topics = [settings.kafka_topic_prefix + n for n in names]
    group = group or settings.kafka_topic_prefix + settings.service_name
    dlq = dead_letters or DeadLetters(broker, settings.service_name, prefix=settings.kafka_topic_prefix)
    by_type = {cls.ce_type: cls for cls in event_classes}
    span_name = f"{names[0]} process batch" if len(names) == 1 else f"{group} process batch"

    def parse(rec: Any) -> Event:
        ce_type = _headers(rec).get("ce_type", b"").decode(errors="replace")
        cls = by_type.get(ce_type)
        if cls is None:
            raise InvalidEvent(f"ce_type is {ce_type or None!r}, expected one of {sorted(by_type)}")
        return _from_record(cls, rec)

    async def consume(msg: KafkaMessage) -> None:
        records, events = [], []
        for rec in msg.raw_message:
            try:
                events.append(parse(rec))
                records.append(rec)
            except InvalidEvent as exc:
                await dlq.send_record(rec, str(exc), group)
        if not events:
            return
        # one span for the batch, linked to each message's own context; what an event causes
        # continues that event's trace (its traceparent goes with the outbox rows it causes)
        traces = {e.event_id: tp.decode(errors="replace") for e, rec in zip(events, records, strict=True)
                  if (tp := _headers(rec).get("traceparent"))}
        links = [link for tp in traces.values() if (link := link_to(tp)) is not None]
        try:
            with (tracer().start_as_current_span(span_name, links=links,
                                                 attributes={"messaging.batch.message_count": len(events)}),
                  cause_traces(traces)):
                async for attempt in _retrying(settings):
                    with attempt:
                        refused = await handler(events) or {}
        except Exception as exc:
            await _unavailable_or(exc, settings)
            for rec in records:
                await dlq.send_record(rec, f"{type(exc).__name__}: {exc}", group)
            return
        for i, reason in refused.items():
            await dlq.send_record(records[i], reason, group)

    consume.__name__ = f"{group}__{handler.__name__}"
    consume.__doc__ = handler.__doc__
    return _subscriber(broker, settings, topics, group, consume, f"{group}:{'+'.join(topics)}",
                       batch=True, max_records=max_records, batch_timeout_ms=settings.kafka_batch_timeout_ms)


class OutboxRelay:
    """Publishes the outbox's new rows in commit order (each row's events in the order they
    were emitted) and records how far it got in ONE watermark document per pass: rows are
    written once and never updated.

    New rows come from a change stream on the outbox, in commit order, so a transaction
    that wrote its rows early and committed late is read after the rows committed before
    it, never skipped behind a watermark of creation times. Once the broker acknowledged a
    pass, one write records the stream's resume token and the last row's position
    (:class:`~servicekit.outbox.RelayRecord`). Rows are kept for ``retention`` and then
    deleted behind the watermark by :attr:`cleaner` (never by a TTL index), so that they can
    be published again (:func:`servicekit.outbox.republish`).

    One replica relays at a time (a lease). A crash after publishing and before recording
    publishes that pass again from the recorded token, with the same ``ce_id``; consumers
    are idempotent on it. With no watermark yet, or one the stream can no longer resume
    from (the database's oplog dropped it), the relay opens a new stream and catches up from
    the retained rows created since the recorded position minus ``catchup_grace`` (longer
    than any transaction takes from writing its rows to committing): also safe to repeat.

    Runs as a :class:`~servicekit.worker.Worker`: woken right after each commit that wrote
    events, polls otherwise, and on stop lets the pass in progress finish and then
    publishes what is still new."""

    def __init__(self, db: AsyncDatabase, broker: KafkaBroker, *, poll_seconds: float = 0.5,
                 batch: int = 500, owner: str | None = None, on_published: Callable[[int], None] | None = None,
                 linger_seconds: float = 0.0, client: AsyncMongoClient | None = None,
                 retention: timedelta = timedelta(days=7), catchup_grace: timedelta = timedelta(minutes=2),
                 cleanup_seconds: float = 60.0, cleanup_batch: int = 1000, idle_record_seconds: float = 60.0,
                 await_ms: int = 1, topic_prefix: str = "", record_seconds: float = 0.0) -> None:
        """With ``client``, retention deletes a batch in one transaction (one durable commit);
        ``topic_prefix`` is put before each row's topic (settings ``kafka_topic_prefix``).
        ``record_seconds``: the watermark is written at most this often while rows keep
        coming (0: after every pass); what a crash loses is at most that long of publishing,
        published again after the restart (same ``ce_id``)."""
        self.client, self.topic_prefix = client, topic_prefix
        self.db, self.broker, self.batch = db, broker, batch
        self.lease = Lease(db, "outbox-relay", owner or uuid.uuid4().hex)
        self.record = RelayRecord(db)
        self.retention, self.catchup_grace, self.cleanup_batch = retention, catchup_grace, cleanup_batch
        self.idle_record_seconds, self.await_ms = idle_record_seconds, await_ms
        self.position: Position | None = None  # the last row published and recorded
        self._stream: Any = None
        self._recorded_token: Any = None
        self._recorded_at = -float("inf")
        self._history_lost = False
        self.record_seconds = record_seconds
        self._unrecorded: tuple[Position, int] | None = None  # published since the record: (last row, events)
        self.worker = Worker("outbox-relay", self.relay_pass, interval=poll_seconds, batch=batch,
                             linger=linger_seconds, after_pass=on_published, drain=self.drain)
        self.cleaner = Worker("outbox-retention", self.cleanup_pass, interval=cleanup_seconds, batch=cleanup_batch)

    def notify(self) -> None:
        self.worker.notify()

    async def relay_pass(self) -> int:
        """One pass if this replica holds the lease: how many rows it published."""
        if await self.lease.acquire():
            return await self.run_once()
        await self.close()  # another replica relays; resume from its record if the lease comes back
        return 0

    async def run_once(self) -> int:
        """Publish what committed since the last pass (rows until about ``batch`` events), then
        record it; returns how many events it published."""
        try:
            caught_up = await self._open() if self._stream is None else 0
            rows: list[dict[str, Any]] = []
            events = 0
            while events < self.batch:
                change = await self._stream.try_next()
                if change is None:
                    break
                rows.append(change["fullDocument"])
                events += len(events_of(rows[-1]))
            token = self._stream.resume_token
            since_record = time.monotonic() - self._recorded_at
            if rows:
                await publish_rows(self.broker, rows, prefix=self.topic_prefix)
                before = self._unrecorded[1] if self._unrecorded else 0
                self._unrecorded = (Position.of(rows[-1]), before + events)
                if since_record >= self.record_seconds:
                    await self._record_published(token)
            elif self._unrecorded is not None and since_record >= self.record_seconds:
                await self._record_published(token)  # rows came in the last moments: record them now
            elif token != self._recorded_token and since_record >= self.idle_record_seconds:
                await self._save(token, None, 0)  # quiet: keep the token inside the oplog's window
            return caught_up + events
        except asyncio.CancelledError:
            self._stream, self._unrecorded = None, None  # what it read unrecorded is read again from the record
            raise
        except Exception as exc:
            if isinstance(exc, OperationFailure) and exc.code in _HISTORY_LOST:
                self._history_lost = True
            await self.close()
            raise

    async def drain(self) -> int:
        """At stop: publish what is new, and record whatever was published."""
        n = await self.relay_pass()
        if self._stream is not None and self._unrecorded is not None:
            await self._record_published(self._stream.resume_token)
        return n

    async def _record_published(self, token: Any) -> None:
        """Everything the stream gave up to ``token`` has been published: record it."""
        if self._unrecorded is None:
            return
        position, events = self._unrecorded
        await self._save(token, position, events)
        self._unrecorded = None

    async def close(self) -> None:
        """Close the change stream (the next pass resumes from the record; what was published
        and not recorded is published again then)."""
        self._unrecorded = None
        stream, self._stream = self._stream, None
        if stream is not None:
            with contextlib.suppress(Exception):
                await stream.close()

    async def pending(self) -> int:
        """Events in rows created after the last one published (an estimate for the gauge)."""
        last = self._unrecorded[0] if self._unrecorded is not None else self.position
        return await pending_events(self.db, last.created_at if last is not None else None)

    async def cleanup_pass(self) -> int:
        """Delete a batch of rows older than ``retention`` AND behind the watermark: a row the
        relay has not published is never deleted, however old."""
        if self.position is None or not await self.lease.acquire():
            return 0
        before = min(datetime.now(UTC) - self.retention, self.position.created_at)
        return await delete_published(self.db, before, batch=self.cleanup_batch, client=self.client)

    async def _watch(self, token: Any) -> Any:
        return await self.db[OUTBOX].watch([{"$match": {"operationType": "insert"}}], resume_after=token,
                                           max_await_time_ms=self.await_ms)

    async def _open(self) -> int:
        """Resume the stream from the record, or catch up from the retained rows: how many
        rows catching up published."""
        state = await self.record.load()
        self.position = state.position if state else None
        if state is not None and state.token is not None and not self._history_lost:
            try:
                self._stream = await self._watch(state.token)
                self._recorded_token = state.token
                return 0
            except OperationFailure as exc:
                log.warning("outbox relay cannot resume from its watermark (%s): catching up from the log", exc)
        stream = await self._watch(None)  # from now on: what commits while catching up comes through it
        since = state.position.created_at - self.catchup_grace if state and state.position else None
        published = 0
        try:
            async for rows in rows_between(self.db, range_filter(since, unsent_only=True), batch=self.batch):
                published += await publish_rows(self.broker, rows, prefix=self.topic_prefix)
                self.position = Position.of(rows[-1])
            await self._save(stream.resume_token, self.position, published)
        except BaseException:
            with contextlib.suppress(Exception):
                await stream.close()
            raise
        if published:
            log.info("outbox relay caught up: %d rows since %s published again", published, since or "the start")
        self._stream, self._history_lost = stream, False
        return published

    async def _save(self, token: Any, position: Position | None, published: int) -> None:
        await self.record.save(token, position, published)
        self._recorded_token, self._recorded_at = token, time.monotonic()
        if position is not None:
            self.position = position


# ChangeStreamHistoryLost, ChangeStreamFatalError: the recorded token cannot be resumed from.
_HISTORY_LOST = frozenset({280, 286})
