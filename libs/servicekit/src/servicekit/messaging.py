"""Kafka plumbing: broker factory, outbox relay, and event subscribers with bounded
retries, idempotency hooks and a dead-letter topic."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from pymongo import ASCENDING, AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from tenacity import AsyncRetrying, retry_if_not_exception_type, stop_after_attempt, wait_exponential_jitter

from contracts import Event, InvalidEvent, dead_letter_topic, topic_for
from servicekit.config import ServiceSettings
from servicekit.mongo import OUTBOX, Lease
from servicekit.telemetry import attached
from servicekit.worker import Worker

E = TypeVar("E", bound=Event)
log = logging.getLogger(__name__)


def make_broker(settings: ServiceSettings, middlewares: Sequence[Any] = ()) -> KafkaBroker:
    """acks=all always; idempotence is a setting (on by default; Tansu cannot)."""
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        acks="all",
        enable_idempotence=settings.kafka_enable_idempotence,
        client_id=settings.service_name,
        middlewares=[KafkaTelemetryMiddleware(), *middlewares],
        logger=logging.getLogger(f"{settings.service_name}.broker"),
        log_level=logging.DEBUG,
    )


class PermanentFailure(Exception):
    """Raise from a handler when retrying cannot help: the event goes straight to the DLQ."""


class DeadLetters:
    """Publishes a message that could not be handled, with the reason, the original
    headers and where it came from; the consumer then moves on."""

    def __init__(self, broker: KafkaBroker, service: str, on_dead_letter: Callable[[str], None] | None = None) -> None:
        self.broker, self.topic, self.service = broker, dead_letter_topic(service), service
        self.on_dead_letter = on_dead_letter

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
        await self.broker.publish(rec.value, self.topic, key=rec.key, headers=headers)
        if self.on_dead_letter is not None:
            self.on_dead_letter(str(rec.topic))
        log.warning("dead-lettered %s[%s]@%s: %s", rec.topic, rec.partition, rec.offset, reason)


def _consumer(
    settings: ServiceSettings,
    parse: Callable[[KafkaMessage], Event],
    handler: Callable[[Any], Awaitable[Any]],
    group: str,
    dlq: DeadLetters,
) -> Callable[[KafkaMessage], Awaitable[None]]:
    """The message handler shared by :func:`subscribe` and :func:`subscribe_many`."""

    async def consume(msg: KafkaMessage) -> None:
        try:
            event = parse(msg)
        except InvalidEvent as exc:
            await dlq.send(msg, str(exc), group)
            return
        try:
            async for attempt in _retrying(settings):
                with attempt:
                    await handler(event)
        except Exception as exc:
            await dlq.send(msg, f"{type(exc).__name__}: {exc}", group)

    consume.__name__ = f"{group}__{handler.__name__}"
    consume.__doc__ = handler.__doc__
    return consume


def _retrying(settings: ServiceSettings) -> AsyncRetrying:
    """Bounded retries of a handler; a PermanentFailure is not retried."""
    return AsyncRetrying(stop=stop_after_attempt(settings.consumer_max_attempts),
                         wait=wait_exponential_jitter(multiplier=0.05, max=2),
                         retry=retry_if_not_exception_type(PermanentFailure), reraise=True)


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
) -> Any:
    """Subscribe ``handler`` to the event's topic under consumer group ``group``
    (default: the service name). Invalid messages and handlers failing after
    ``consumer_max_attempts`` go to the dead-letter topic; the offset is committed
    only after the handler or the dead-letter publish succeeded (at least once)."""
    spec = topic_for(event_cls)
    group = group or settings.service_name
    dlq = dead_letters or DeadLetters(broker, settings.service_name)
    consume = _consumer(settings, lambda msg: event_cls.from_wire(msg.body, msg.headers), handler, group, dlq)
    return _subscriber(broker, settings, [spec.name], group, consume, f"{group}:{spec.name}")


def subscribe_many(
    broker: KafkaBroker,
    settings: ServiceSettings,
    event_classes: Sequence[type[Event]],
    handler: Callable[[Any], Awaitable[Any]],
    *,
    group: str | None = None,
    dead_letters: DeadLetters | None = None,
) -> Any:
    """Like :func:`subscribe`, but ONE consumer reads the topics of all ``event_classes``
    and parses each message by its ``ce_type`` header (an unknown type is dead-lettered).

    Use it when a service consumes many topics in one group: every group member joins
    (and rebalances) the group on start, so one consumer per topic makes start-up grow
    with the number of topics (about 2 s per topic on the embedded broker)."""
    group = group or settings.service_name
    dlq = dead_letters or DeadLetters(broker, settings.service_name)
    by_type = {cls.ce_type: cls for cls in event_classes}

    def parse(msg: KafkaMessage) -> Event:
        raw = (msg.headers or {}).get("ce_type")
        ce_type = raw.decode() if isinstance(raw, bytes) else raw
        cls = by_type.get(ce_type or "")
        if cls is None:
            raise InvalidEvent(f"ce_type is {ce_type!r}, expected one of {sorted(by_type)}")
        return cls.from_wire(msg.body, msg.headers)

    topics = list(dict.fromkeys(topic_for(cls).name for cls in event_classes))
    consume = _consumer(settings, parse, handler, group, dlq)
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
    spec = topic_for(event_cls)
    group = group or settings.service_name
    dlq = dead_letters or DeadLetters(broker, settings.service_name)

    async def consume(msg: KafkaMessage) -> None:
        records, events = [], []
        for rec in msg.raw_message:
            try:
                events.append(event_cls.from_wire(rec.value, {k: v for k, v in (rec.headers or ())}))
                records.append(rec)
            except InvalidEvent as exc:
                await dlq.send_record(rec, str(exc), group)
        if not events:
            return
        try:
            async for attempt in _retrying(settings):
                with attempt:
                    refused = await handler(events) or {}
        except Exception as exc:
            for rec in records:
                await dlq.send_record(rec, f"{type(exc).__name__}: {exc}", group)
            return
        for i, reason in refused.items():
            await dlq.send_record(records[i], reason, group)

    consume.__name__ = f"{group}__{handler.__name__}"
    consume.__doc__ = handler.__doc__
    return _subscriber(broker, settings, [spec.name], group, consume, f"{group}:{spec.name}",
                       batch=True, max_records=max_records)


class OutboxRelay:
    """Publishes pending outbox rows in order and marks them sent.

    One replica relays at a time (a lease). A crash after publishing and before
    marking means a row is published again with the same ``ce_id``; consumers are
    idempotent on it. Runs as a :class:`~servicekit.worker.Worker`: woken right after
    each commit that wrote events, polls otherwise, and on stop lets the pass in progress
    finish and then publishes what is still pending."""

    def __init__(self, db: AsyncDatabase, broker: KafkaBroker, *, poll_seconds: float = 0.5,
                 batch: int = 500, owner: str | None = None, on_published: Callable[[int], None] | None = None,
                 linger_seconds: float = 0.0, client: AsyncMongoClient | None = None) -> None:
        """With ``client``, the rows of a pass are marked sent in one transaction."""
        self.client = client
        self.db, self.broker, self.batch = db, broker, batch
        self.lease = Lease(db, "outbox-relay", owner or uuid.uuid4().hex)
        self.worker = Worker("outbox-relay", self.relay_pass, interval=poll_seconds, batch=batch,
                             linger=linger_seconds, after_pass=on_published, drain=self.relay_pass)

    def notify(self) -> None:
        self.worker.notify()

    async def relay_pass(self) -> int:
        """One pass if this replica holds the lease: how many rows it published."""
        return await self.run_once() if await self.lease.acquire() else 0

    async def run_once(self) -> int:
        rows = await (
            self.db[OUTBOX]
            .find({"status": "pending"})
            .sort([("status", ASCENDING), ("created_at", ASCENDING), ("idx", ASCENDING)])
            .limit(self.batch)
            .to_list()
        )
        if not rows:
            return 0
        futures = []
        for row in rows:  # issued in order: per-partition order is kept by the producer
            with attached(row.get("traceparent")):
                futures.append(await self.broker.publish(
                    row["body"], row["topic"], key=row["key"].encode(), headers=row["headers"], no_confirm=True
                ))
        await asyncio.gather(*futures)
        sent = ({"_id": {"$in": [r["_id"] for r in rows]}}, {"$set": {"status": "sent", "sent_at": datetime.now(UTC)}})
        if self.client is None:
            await self.db[OUTBOX].update_many(*sent)
        else:  # one transaction: one durable commit for the pass; SecantusDB commits each row of a bare update_many
            async with self.client.start_session() as session:

                async def mark(s: Any) -> None:
                    await self.db[OUTBOX].update_many(*sent, session=s)

                await session.with_transaction(mark)
        return len(rows)
