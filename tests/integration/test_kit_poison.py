"""Poison never loops and is never dropped: whatever a kit subscriber (single, multi-topic
or batch) cannot decode goes to the service's dead-letter topic with the reason and its
origin, the offset is committed past it, and the next good event is handled."""

from __future__ import annotations

import hashlib

from aiokafka import AIOKafkaProducer

from contracts import dead_letter_topic, topic_for
from contracts.events.registration import ApplicationSubmittedV1, StepDecidedV1
from servicekit.config import ServiceSettings, load
from servicekit.messaging import DeadLetters, make_broker, subscribe, subscribe_batch, subscribe_many
from servicekit.topics import ensure_topics
from tests.support.events import make, submitted
from tests.support.kafka import read_all
from tests.support.waiting import eventually

BIG = 1_000_000  # under the broker's message limit, over the dead-letter topic's once headers are added


def _poison(headers: dict[str, str]) -> list[tuple[str, bytes, list[tuple[str, bytes]]]]:
    """(what, value, headers) of every kind of poison, each with otherwise valid CloudEvents headers."""
    h = [(k, v.encode()) for k, v in headers.items()]
    return [
        ("not JSON", b"{not json", h),
        ("empty", b"", h),
        ("too deep", b"[" * 200_000 + b"]" * 200_000, h),
        ("not UTF-8 header", b"{}", [*h, ("x-note", b"\xff\xfe")]),
        ("too large", b'{"pad":"' + b"x" * BIG + b'"}', h),
        ("no headers", b"{}", []),
    ]


async def test_every_kind_of_poison_is_dead_lettered_once_and_the_consumers_go_on(infra_env, unique) -> None:
    settings = load(ServiceSettings, service_name=f"poison{unique}")
    await ensure_topics(settings.kafka_bootstrap_servers)
    await ensure_topics(settings.kafka_bootstrap_servers, {dead_letter_topic(settings.service_name): 1})
    broker = make_broker(settings)
    dlq = DeadLetters(broker, settings.service_name)
    single: list[str] = []
    many: list[str] = []
    batched: list[str] = []

    async def on_one(e: ApplicationSubmittedV1) -> None:
        single.append(e.case_number)

    async def on_any(e) -> None:
        many.append(e.case_number)

    async def on_batch(es: list[StepDecidedV1]) -> dict[int, str]:
        batched.extend(e.case_number for e in es)
        return {}

    subscribe(broker, settings, ApplicationSubmittedV1, on_one, group=f"one{unique}", dead_letters=dlq)
    subscribe_many(broker, settings, [ApplicationSubmittedV1], on_any, group=f"many{unique}", dead_letters=dlq)
    subscribe_batch(broker, settings, StepDecidedV1, on_batch, group=f"batch{unique}", dead_letters=dlq)
    key = f"P{unique}"
    good_submitted = submitted(f"G1{unique}")
    good_decided = make(StepDecidedV1, f"G2{unique}", source="/departments", step="licence", attempt=1,
                        decision="approved", department="market_supervision", reviewer_id="r-1")
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, max_request_size=2_000_000)
    await broker.start()
    await producer.start()
    try:
        for good in (good_submitted, good_decided):
            topic = topic_for(good).name
            _, headers = good.to_wire()
            for _what, value, hdrs in _poison(headers):
                await producer.send_and_wait(topic, value, key=key.encode(), headers=hdrs)
            # same key as the poison: the same partition, so the marker is read only after it
            await producer.send_and_wait(topic, good.to_wire()[0], key=key.encode(),
                                         headers=[(k, v.encode()) for k, v in headers.items()])
        # the good events behind the poison are the markers: every consumer got past it
        await eventually(lambda: _at(single, many, batched, good_submitted.case_number, good_decided.case_number),
                         timeout=60, what="good events after the poison")
    finally:
        await producer.stop()
        await broker.stop()

    records = await eventually(lambda: _dead(settings, key, 18), timeout=90, what="18 dead letters")
    reasons = {}
    for r in records:
        h = {k: v.decode(errors="replace") for k, v in r.headers}
        reasons.setdefault((h["dlq_source_topic"], h["dlq_consumer_group"]), []).append(h)
        assert h["dlq_reason"] and h["dlq_source_offset"].isdigit() and h["dlq_source_partition"].isdigit()
    assert set(reasons) == {(topic_for(ApplicationSubmittedV1).name, f"one{unique}"),
                            (topic_for(ApplicationSubmittedV1).name, f"many{unique}"),
                            (topic_for(StepDecidedV1).name, f"batch{unique}")}
    for headers in reasons.values():
        assert len(headers) == 6  # each kind once, none looped, none dropped
        text = " | ".join(h["dlq_reason"] for h in headers)
        for expected in ("not JSON", "empty", "nested too deep", "utf-8", "ce_type"):
            assert expected in text, text
        [big] = [h for h in headers if h.get("dlq_value_truncated") == "true"]
        assert int(big["dlq_value_size"]) > BIG
    truncated = [r for r in records if dict(r.headers).get("dlq_value_truncated") == b"true"]
    full = b'{"pad":"' + b"x" * BIG + b'"}'
    assert all(dict(r.headers)["dlq_value_sha256"].decode() == hashlib.sha256(full).hexdigest() for r in truncated)


async def _at(single, many, batched, submitted_case, decided_case):
    return submitted_case in single and submitted_case in many and decided_case in batched


async def _dead(settings: ServiceSettings, key: str, n: int):
    # big records come one per fetch: give the whole read time (a partial read is retried from the start)
    recs = [r for r in await read_all(settings.kafka_bootstrap_servers, dead_letter_topic(settings.service_name),
                                      timeout=30) if r.key == key.encode()]
    return recs if len(recs) >= n else None
