"""The machine's own limits, on the same broker and database the pipelines use.

Broker (aiokafka, 1 KiB values, a topic with the registry's partition count):
batched produce (``send`` without waiting, acks=all), one-by-one acknowledged produce
(``send_and_wait``: what an awaited FastStream publish costs), and consume
(partitions assigned, ``getmany``). The topic is deleted afterwards (Tansu keeps every
byte in memory).

Database (PyMongo async, as the services use it, 1 KiB documents): ``insert_many`` in
batches of 100 and ``update_many`` over 100 ids at a time (a fixed count); then, each for
a fixed time, sequential ``insert_one``, ``update_one`` by ``_id``, ``find_one`` by ``_id``,
``insert_one`` from 8 concurrent tasks, and a small transaction (find + update + insert,
majority, as the unit of work commits one event). The database is dropped afterwards."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pymongo import AsyncMongoClient
from pymongo.write_concern import WriteConcern

from contracts.topics import DEFAULT_PARTITIONS


@dataclass(frozen=True)
class LimitSizes:
    kafka_batched: int
    kafka_one_by_one: int
    db_bulk: int  # insert_many and update_many documents
    db_seconds: float  # each single-operation test runs this long

    @classmethod
    def for_mode(cls, smoke: bool) -> LimitSizes:
        if smoke:
            return cls(kafka_batched=5_000, kafka_one_by_one=500, db_bulk=1_000, db_seconds=1.0)
        return cls(kafka_batched=50_000, kafka_one_by_one=3_000, db_bulk=10_000, db_seconds=4.0)


def _rate(count: int, seconds: float) -> dict[str, float]:
    return {"count": count, "seconds": round(seconds, 3), "per_s": round(count / seconds, 1) if seconds > 0 else 0.0}


# ----------------------------------------------------------------------------------- broker
async def kafka_limits(bootstrap: str, sizes: LimitSizes, value_size: int = 1024) -> dict[str, Any]:
    topic = f"bench.raw-limits.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, DEFAULT_PARTITIONS, 1)])
        value = os.urandom(value_size // 2).hex().encode()[:value_size]
        out: dict[str, Any] = {"value_bytes": len(value), "partitions": DEFAULT_PARTITIONS}

        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5,
                                    max_batch_size=256 * 1024)
        await producer.start()
        try:
            await producer.send_and_wait(topic, value, key=b"warm-up")
            t0 = time.perf_counter()
            futures = [await producer.send(topic, value, key=f"k{i}".encode()) for i in range(sizes.kafka_batched)]
            await asyncio.gather(*futures)
            dt = time.perf_counter() - t0
            out["produce_batched"] = _rate(sizes.kafka_batched, dt) | {
                "mib_per_s": round(sizes.kafka_batched * len(value) / dt / 2**20, 1)}

        finally:
            await producer.stop()
        # one by one: no linger (the client default, as FastStream publishes), each send awaited
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(topic, value, key=b"warm-up")
            t0 = time.perf_counter()
            for i in range(sizes.kafka_one_by_one):
                await producer.send_and_wait(topic, value, key=f"s{i}".encode())
            out["produce_one_by_one_acked"] = _rate(sizes.kafka_one_by_one, time.perf_counter() - t0)
        finally:
            await producer.stop()

        total = 2 + sizes.kafka_batched + sizes.kafka_one_by_one
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                    fetch_max_wait_ms=100, max_partition_fetch_bytes=4 * 2**20)
        await consumer.start()
        try:
            tps = [TopicPartition(topic, p) for p in range(DEFAULT_PARTITIONS)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            got, t0 = 0, time.perf_counter()
            deadline = t0 + 120
            while got < total and time.perf_counter() < deadline:
                batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
                got += sum(len(v) for v in batch.values())
            dt = time.perf_counter() - t0
            out["consume"] = _rate(got, dt) | {"mib_per_s": round(got * len(value) / dt / 2**20, 1),
                                              "complete": got >= total}
        finally:
            await consumer.stop()
        await admin.delete_topics([topic])
        return out
    finally:
        await admin.close()


# ----------------------------------------------------------------------------------- database
def _doc(i: int) -> dict[str, Any]:
    return {"_id": i, "n": i, "status": "pending", "pad": "x" * 980}


async def _for_a_while(op: Callable[[int], Awaitable[Any]], seconds: float, tasks: int = 1) -> dict[str, float]:
    """Run ``op(i)`` back to back (from ``tasks`` concurrent tasks) for ``seconds``: a time
    box rather than a count, so a slow moment of the machine weighs the same in each."""
    count, t0 = 0, time.perf_counter()
    end = t0 + seconds

    async def loop(w: int) -> None:
        nonlocal count
        i = w
        while time.perf_counter() < end:
            await op(i)
            i += tasks
            count += 1

    await asyncio.gather(*(loop(w) for w in range(tasks)))
    return _rate(count, time.perf_counter() - t0)


async def db_limits(uri: str, sizes: LimitSizes) -> dict[str, Any]:
    client: AsyncMongoClient = AsyncMongoClient(uri, tz_aware=True, serverSelectionTimeoutMS=5000,
                                                appname="bench-limits")
    name = f"bench_limits_{uuid.uuid4().hex[:6]}"
    db = client[name]
    out: dict[str, Any] = {"doc_bytes": 1024, "seconds_per_single_op_test": sizes.db_seconds}
    try:
        await db.command("ping")
        bulk, secs = sizes.db_bulk, sizes.db_seconds

        coll = db["bulk"]
        t0 = time.perf_counter()
        for start in range(0, bulk, 100):
            await coll.insert_many([_doc(i) for i in range(start, min(bulk, start + 100))])
        out["insert_many_docs"] = _rate(bulk, time.perf_counter() - t0) | {"batch": 100}

        t0 = time.perf_counter()
        for start in range(0, bulk, 100):
            await coll.update_many({"_id": {"$in": list(range(start, min(bulk, start + 100)))}},
                                   {"$set": {"status": "sent"}})
        out["update_many_docs"] = _rate(bulk, time.perf_counter() - t0) | {"batch": 100}

        single = db["single"]
        out["insert_one"] = await _for_a_while(lambda i: single.insert_one(_doc(i)), secs)
        inserted = out["insert_one"]["count"]
        out["update_one"] = await _for_a_while(
            lambda i: single.update_one({"_id": i % inserted}, {"$set": {"status": "sent"}, "$inc": {"n": 1}}), secs)
        out["find_one"] = await _for_a_while(lambda i: single.find_one({"_id": i % inserted}), secs)
        concurrent = db["concurrent"]
        out["insert_one_8_concurrent"] = await _for_a_while(lambda i: concurrent.insert_one(_doc(i)), secs, tasks=8)
        out["insert_one_8_concurrent"]["tasks"] = 8

        coll, other = db["txn"], db["txn_outbox"]
        await coll.insert_many([_doc(i) for i in range(inserted)])

        async def txn(i: int) -> None:
            async with client.start_session() as session:

                async def body(s: Any) -> None:
                    await coll.find_one({"_id": i % inserted}, session=s)
                    await coll.update_one({"_id": i % inserted}, {"$inc": {"n": 1}}, session=s)
                    await other.insert_many([{"_id": i, "pad": "y" * 500}], session=s)

                await session.with_transaction(body, write_concern=WriteConcern("majority"))

        out["transaction_read_update_insert"] = await _for_a_while(txn, secs)
        out["transaction_read_update_insert"]["writes_per_txn"] = 2
        return out
    finally:
        await client.drop_database(name)
        await client.close()
