"""What the platform relies on from its embedded broker (Apache Kafka, config/kafka):
acknowledged records survive a killed broker, the idempotent producer works, the
services' 2 s sessions are accepted, and topics are never created by a client."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaTimeoutError, UnknownTopicOrPartitionError

from devstack.servers import broker_kind, start_broker
from tests.infra import Infra
from tests.support.kafka import read_all

pytestmark = pytest.mark.skipif(broker_kind() != "kafka", reason="Apache Kafka only (DEVSTACK_BROKER=tansu)")


@pytest.fixture
def embedded(infra: Infra) -> Infra:
    """The session's broker, when it is the embedded one (its settings are under test)."""
    if infra.kind != "embedded":
        pytest.skip(f"the session's broker is not the embedded one ({infra.kind})")
    return infra


async def create(bootstrap: str, topic: str, partitions: int = 3) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()


async def send(bootstrap: str, topic: str, n: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for i in range(n):
            await producer.send_and_wait(topic, b"x", key=str(i).encode())
    finally:
        await producer.stop()


async def test_acknowledged_records_survive_a_killed_broker(embedded, tmp_path, unique) -> None:
    data = tmp_path / "kafka"
    broker = await asyncio.to_thread(start_broker, data_dir=data)
    topic = f"durable-{unique}"
    try:
        await create(broker.bootstrap, topic)
        await send(broker.bootstrap, topic, 50)
        broker.proc.send_signal(signal.SIGKILL)
        broker.proc.wait(10)
        started = time.monotonic()
        broker = await asyncio.to_thread(start_broker, port=int(broker.bootstrap.rsplit(":", 1)[1]), data_dir=data)
        # the dead broker's registration holds the restart for broker.session.timeout.ms (3 s)
        assert time.monotonic() - started < 30
        assert len(await read_all(broker.bootstrap, topic, timeout=10)) == 50
    finally:
        broker.stop()


async def test_idempotent_producer_and_short_group_sessions_work(embedded: Infra, unique) -> None:
    topic = f"idem-{unique}"
    await create(embedded.kafka_bootstrap, topic)
    await send(embedded.kafka_bootstrap, topic, 20)
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=embedded.kafka_bootstrap, group_id=f"g-{unique}",
                                session_timeout_ms=2000, heartbeat_interval_ms=200, fetch_max_wait_ms=50,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    started = time.monotonic()
    await consumer.start()  # a broker with group.min.session.timeout.ms=6000 refuses the join
    try:
        got = 0
        while got < 20 and time.monotonic() - started < 20:
            got += sum(len(r) for r in (await consumer.getmany(timeout_ms=500)).values())
        assert got == 20
        assert time.monotonic() - started < 5  # group.initial.rebalance.delay.ms=0
    finally:
        await consumer.stop()


async def test_a_client_never_creates_a_topic(embedded: Infra, unique) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=embedded.kafka_bootstrap, request_timeout_ms=2000,
                                metadata_max_age_ms=500)
    await producer.start()
    try:
        with pytest.raises((KafkaTimeoutError, UnknownTopicOrPartitionError)):
            await asyncio.wait_for(producer.send_and_wait(f"nobody-created-{unique}", b"x"), 10)
    finally:
        await producer.stop()
