"""Raw Kafka helpers for tests: produce and read a topic without a consumer group."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition


async def produce(bootstrap: str, topic: str, body: bytes, headers: dict[str, str], key: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, body, key=key.encode(),
                                     headers=[(k, v.encode()) for k, v in headers.items()])
    finally:
        await producer.stop()


async def read_all(bootstrap: str, topic: str, timeout: float = 3.0) -> list:
    """Every record currently in ``topic`` (all partitions), read from the beginning."""
    # Subscribed without a group id, the consumer takes every partition of the topic itself
    # (Apache Kafka sends metadata only for the topics a client asks about).
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        for _ in range(int(timeout / 0.01)):
            if consumer.assignment():
                break
            await asyncio.sleep(0.01)
        tps = sorted(consumer.assignment()) or [TopicPartition(topic, 0)]
        if not consumer.assignment():
            consumer.unsubscribe()
            consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        records = []
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for recs in batch.values():
                records.extend(recs)
            positions = {tp: await consumer.position(tp) for tp in tps}
            if all(positions[tp] >= end[tp] for tp in tps):
                break
        return records
    finally:
        await consumer.stop()
