"""What ``GET /ops/status`` reads from the broker: the service's dead letters by reason and its
consumer groups' lag.

Dead letters are read from the service's own dead-letter topic (the ``dlq_reason``,
``dlq_source_topic`` and ``dlq_at`` headers :class:`servicekit.messaging.DeadLetters` writes),
at most the newest ``per_partition`` records of each partition, without a consumer group (no
offsets are committed). Lag is each group's committed offsets against the partitions' end
offsets (a partition the group never committed counts from its first retained record). Both
are cached for ``cache_seconds``: a console refreshing every few seconds reads the broker once
per period, and concurrent requests share one read.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

RECENT = 20
MAX_REASONS = 100


@dataclass(frozen=True)
class ReasonCount:
    source_topic: str
    reason: str
    count: int
    last_at: datetime


@dataclass(frozen=True)
class DeadLetter:
    source_topic: str
    reason: str
    at: datetime
    key: str | None


@dataclass(frozen=True)
class DeadLetterSummary:
    topic: str
    total: int = 0
    by_reason: list[ReasonCount] = field(default_factory=list)
    recent: list[DeadLetter] = field(default_factory=list)  # newest first


@dataclass(frozen=True)
class Lag:
    group: str
    topic: str
    lag: int


@dataclass(frozen=True)
class BrokerView:
    dead_letters: DeadLetterSummary
    consumers: list[Lag]


def summarise(topic: str, letters: list[DeadLetter]) -> DeadLetterSummary:
    """Dead letters counted by source topic and reason (the most frequent first, at most
    ``MAX_REASONS``), and the newest ``RECENT`` of them."""
    groups: dict[tuple[str, str], list[DeadLetter]] = {}
    for letter in letters:
        groups.setdefault((letter.source_topic, letter.reason), []).append(letter)
    by_reason = sorted((ReasonCount(src, reason, len(ls), max(x.at for x in ls)) for (src, reason), ls in groups.items()),
                       key=lambda r: (-r.count, -r.last_at.timestamp(), r.source_topic, r.reason))
    recent = sorted(letters, key=lambda x: x.at, reverse=True)[:RECENT]
    return DeadLetterSummary(topic, len(letters), by_reason[:MAX_REASONS], recent)


def letter_of(record: Any) -> DeadLetter:
    """A dead-letter record (an aiokafka ``ConsumerRecord``) as what it says: only its headers are kept."""
    headers = {k: v.decode(errors="replace") for k, v in (record.headers or ())}
    at = _parse_time(headers.get("dlq_at")) or datetime.fromtimestamp(record.timestamp / 1000, UTC)
    key = record.key.decode(errors="replace") if record.key is not None else None
    return DeadLetter(headers.get("dlq_source_topic", "unknown"), headers.get("dlq_reason", "unknown"), at, key)


def _parse_time(text: str | None) -> datetime | None:
    try:
        at = datetime.fromisoformat(text) if text else None
    except ValueError:
        return None
    return None if at is None else at if at.tzinfo else at.replace(tzinfo=UTC)


class BrokerStatus:
    """Reads (and caches) the dead letters of ``dead_letter_topic`` and the lag of the groups
    ``groups()`` names (``{group: [topic, ...]}``)."""

    def __init__(self, bootstrap: str, dead_letter_topic: str, groups: Callable[[], Mapping[str, list[str]]], *,
                 cache_seconds: float = 10.0, per_partition: int = 10_000, timeout: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.bootstrap, self.topic, self.groups = bootstrap, dead_letter_topic, groups
        self.cache_seconds, self.per_partition, self.timeout, self.clock = cache_seconds, per_partition, timeout, clock
        self.reads = 0  # how many times the broker was read (the cache's effect, for tests)
        self._cached: tuple[float, BrokerView] | None = None
        self._lock = asyncio.Lock()

    async def view(self) -> BrokerView:
        async with self._lock:
            if self._cached is not None and self.clock() - self._cached[0] < self.cache_seconds:
                return self._cached[1]
            view = await asyncio.wait_for(self._read(), self.timeout)
            self._cached = (self.clock(), view)
            self.reads += 1
            return view

    async def _read(self) -> BrokerView:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="ops-status")
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False, group_id=None,
                                    client_id="ops-status", auto_offset_reset="earliest")
        await admin.start()
        try:
            await consumer.start()
            try:
                groups = {g: list(ts) for g, ts in self.groups().items()}
                partitions = await self._partitions(admin, {self.topic, *(t for ts in groups.values() for t in ts)})
                lags = await self._lags(admin, consumer, groups, partitions)
                letters = await self._dead_letters(consumer, partitions.get(self.topic, []))
                return BrokerView(summarise(self.topic, letters), lags)
            finally:
                await consumer.stop()
        finally:
            await admin.close()

    @staticmethod
    async def _partitions(admin: AIOKafkaAdminClient, topics: set[str]) -> dict[str, list[TopicPartition]]:
        found: dict[str, list[TopicPartition]] = {}
        for meta in await admin.describe_topics(sorted(topics)):
            if meta.get("error_code", 0) == 0:
                found[meta["topic"]] = sorted(TopicPartition(meta["topic"], p["partition"])
                                              for p in meta.get("partitions", []))
        return found

    async def _lags(self, admin: AIOKafkaAdminClient, consumer: AIOKafkaConsumer, groups: dict[str, list[str]],
                    partitions: dict[str, list[TopicPartition]]) -> list[Lag]:
        tps = sorted({tp for ts in groups.values() for t in ts for tp in partitions.get(t, [])})
        if not tps:
            return []
        ends, begins = await consumer.end_offsets(tps), await consumer.beginning_offsets(tps)
        out = []
        for group, topics in sorted(groups.items()):
            committed = await admin.list_consumer_group_offsets(group)
            for topic in sorted(set(topics)):
                lag = 0
                for tp in partitions.get(topic, []):
                    done = committed.get(tp)
                    start = done.offset if done is not None and done.offset >= 0 else begins[tp]
                    lag += max(0, ends[tp] - start)
                out.append(Lag(group, topic, lag))
        return out

    async def _dead_letters(self, consumer: AIOKafkaConsumer, tps: list[TopicPartition]) -> list[DeadLetter]:
        if not tps:
            return []
        consumer.assign(tps)
        ends, begins = await consumer.end_offsets(tps), await consumer.beginning_offsets(tps)
        todo = {tp for tp in tps if ends[tp] > begins[tp]}
        for tp in todo:
            consumer.seek(tp, max(begins[tp], ends[tp] - self.per_partition))
        letters: list[DeadLetter] = []
        while todo:
            batch = await consumer.getmany(*todo, timeout_ms=500, max_records=1000)
            for tp, recs in batch.items():  # the values are dropped at once: memory stays bounded
                letters.extend(letter_of(r) for r in recs if r.offset < ends[tp])
            for tp in list(todo):
                if await consumer.position(tp) >= ends[tp]:
                    todo.discard(tp)
        return letters


__all__ = ["BrokerStatus", "BrokerView", "DeadLetter", "DeadLetterSummary", "Lag", "ReasonCount", "letter_of", "summarise"]
