"""Reading the bus with plain aiokafka consumers (no group): the completion watcher, and
the per-case accounting of records and bytes on the topics."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts.topics import TOPICS, dead_letter_topic


def record_bytes(r: Any) -> int:
    """Key + value + headers (names and values) of a record: what the event costs on the
    bus, without Kafka's per-batch framing."""
    headers = sum(len(k.encode()) + len(v or b"") for k, v in (r.headers or ()))
    return max(r.serialized_key_size, 0) + max(r.serialized_value_size, 0) + headers


def topics_of(producers: Iterable[str]) -> list[str]:
    wanted = set(producers)
    return [t.name for t in TOPICS if t.producer in wanted]


@dataclass
class Seen:
    observed: float  # wall clock (time.time()) when the watcher got the record
    produced: float  # the record's own timestamp (set by the producer at send), seconds
    count: int = 1


@dataclass
class Watcher:
    """Follows one topic from the beginning and notes when each key first appears.

    ``fetch_max_wait_ms`` is low because Tansu does not wake a waiting fetch when data
    arrives: the watcher adds about half of it to every observed latency."""

    bootstrap: str
    topic: str
    fetch_max_wait_ms: int = 10
    seen: dict[bytes, Seen] = field(default_factory=dict)
    _consumer: AIOKafkaConsumer | None = None
    _task: asyncio.Task[None] | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> Watcher:
        self._consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False,
                                          fetch_max_wait_ms=self.fetch_max_wait_ms, auto_offset_reset="earliest")
        await self._consumer.start()
        parts = self._consumer.partitions_for_topic(self.topic)
        for _ in range(50):
            if parts:
                break
            await asyncio.sleep(0.1)
            await self._consumer._client.force_metadata_update()
            parts = self._consumer.partitions_for_topic(self.topic)
        if not parts:
            raise RuntimeError(f"topic {self.topic} has no partitions (not created?)")
        tps = [TopicPartition(self.topic, p) for p in sorted(parts)]
        self._consumer.assign(tps)
        await self._consumer.seek_to_beginning(*tps)
        self._task = asyncio.create_task(self._run(), name=f"watch:{self.topic}")
        return self

    async def _run(self) -> None:
        assert self._consumer is not None
        while True:
            batch = await self._consumer.getmany(timeout_ms=200)
            now = time.time()
            for records in batch.values():
                for r in records:
                    if r.key in self.seen:
                        self.seen[r.key].count += 1
                    else:
                        self.seen[r.key] = Seen(observed=now, produced=r.timestamp / 1000)
            if batch:
                self._changed.set()

    async def wait_for(self, keys: set[bytes], timeout: float) -> set[bytes]:
        """Wait until every key was seen or ``timeout`` passed; returns the keys still missing."""
        deadline = time.monotonic() + timeout
        while True:
            missing = {k for k in keys if k not in self.seen}
            left = deadline - time.monotonic()
            if not missing or left <= 0:
                return missing
            if self._task is not None and self._task.done():
                self._task.result()  # re-raise what stopped the watcher
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=min(left, 1.0))

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer:
            await self._consumer.stop()
        self._task = self._consumer = None


@dataclass
class TopicTally:
    records: int = 0
    bytes: int = 0


@dataclass
class Tally:
    per_topic: dict[str, dict[bytes, TopicTally]]
    # key -> [(producer timestamp s, topic, step or "")], for the hop-by-hop timeline
    timeline: dict[bytes, list[tuple[float, str, str]]]


async def tally(bootstrap: str, topics: list[str], idle_s: float = 1.0, timeout: float = 120) -> Tally:
    """Every record now on ``topics``, counted per topic and key, with each key's timeline.

    Reads until the topics are idle for ``idle_s`` rather than up to the end offsets:
    Tansu under-reports end offsets after batched produces."""
    out: dict[str, dict[bytes, TopicTally]] = {t: defaultdict(TopicTally) for t in topics}
    timeline: dict[bytes, list[tuple[float, str, str]]] = defaultdict(list)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100,
                                max_partition_fetch_bytes=4 * 2**20)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        tps = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        if not tps:
            return Tally(out, timeline)
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        deadline = time.monotonic() + timeout
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200, max_records=5000)
            if not batch:
                if time.monotonic() - quiet_since >= idle_s:
                    break
                continue
            quiet_since = time.monotonic()
            for tp, records in batch.items():
                per_key = out[tp.topic]
                for r in records:
                    t = per_key[r.key or b""]
                    t.records += 1
                    t.bytes += record_bytes(r)
                    timeline[r.key or b""].append((r.timestamp / 1000, tp.topic, _step(r.value)))
        return Tally(out, timeline)
    finally:
        await consumer.stop()


def _step(value: bytes | None) -> str:
    if not value or b'"step"' not in value:
        return ""
    try:
        return str(json.loads(value).get("step", ""))
    except (ValueError, AttributeError):
        return ""


def dead_letter_topics(services: Iterable[str]) -> list[str]:
    return [dead_letter_topic(s) for s in services]
