"""The kit's delivery guarantees against the real broker and database: outbox,
idempotent consumer, dead-letter topic."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from contracts import dead_letter_topic, topic_for
from contracts.events.registration import ApplicationSubmittedV1
from notifications.bootstrap import create_app as notifications_app
from notifications.config import Settings as NotificationSettings
from servicekit.config import ServiceSettings, load
from servicekit.messaging import OutboxRelay, make_broker
from servicekit.mongo import OUTBOX, ensure_kit_indexes, make_client
from servicekit.outbox import RelayRecord
from servicekit.topics import ensure_topics
from servicekit.uow import MongoUnitOfWork
from tests.support.apps import running
from tests.support.auth import bearer
from tests.support.events import make
from tests.support.kafka import produce, read_all
from tests.support.waiting import eventually


def submitted(case: str, **kw) -> ApplicationSubmittedV1:
    return make(ApplicationSubmittedV1, case, source="/tests", application_id=case, company_name="兰州测试有限公司",
                applicant_id="u-1", channel="web", **kw)


async def messages(client, case):
    r = await client.get("/messages", params={"case_number": case}, headers=bearer("u-1"))
    assert r.status_code == 200, r.text
    return r.json()


@dataclass
class Things:
    """A producer's repository: one insert in the caller's transaction."""

    db: Any
    session: Any

    async def add(self, key: str) -> None:
        await self.db["things"].insert_one({"_id": key}, session=self.session)


@pytest.fixture
def ntf_settings(infra_env, unique) -> NotificationSettings:
    return load(NotificationSettings, mongodb_database=f"ntf_{unique}")


async def test_event_committed_before_a_crash_is_published_by_the_next_relay(infra_env, unique, ntf_settings):
    """The producer commits state + outbox row and dies before publishing: a relay
    started later (a new process) publishes it, and the consumer acts once."""
    settings = load(ServiceSettings, service_name="producer", mongodb_database=f"out_{unique}")
    await ensure_topics(settings.kafka_bootstrap_servers)
    case = f"OB{unique}"
    client = make_client(settings.mongodb_uri)
    db = client[settings.database_name]
    await ensure_kit_indexes(db)

    async def write(tx):
        await tx.repos.add(case)
        tx.emit([submitted(case)])

    await MongoUnitOfWork(Things, client=client, db=db).run(write)  # no relay running: "killed" here
    assert await RelayRecord(db).load() is None

    async with running(notifications_app(ntf_settings)) as ntf:
        broker = make_broker(settings)
        await broker.start()
        try:
            # A relay that publishes and dies before recording its watermark...
            crashing = OutboxRelay(db, broker)
            crashing.record.save = _crash  # type: ignore[method-assign]
            with pytest.raises(_Crash):
                await crashing.run_once()
            assert await RelayRecord(db).load() is None
            # ...and the next relay publishes it again: same ce_id, one effect.
            assert await OutboxRelay(db, broker).run_once() == 1
            assert (await RelayRecord(db).load()).published == 1
        finally:
            await broker.stop()

        records = [r for r in await read_all(settings.kafka_bootstrap_servers, topic_for(ApplicationSubmittedV1).name)
                   if r.key == case.encode()]
        assert len(records) == 2  # on the wire twice
        event_id = dict(records[0].headers)["ce_id"].decode()
        assert dict(records[1].headers)["ce_id"].decode() == event_id
        await eventually(lambda: _processed(ntf.kit, event_id))
        assert len(await messages(ntf, case)) == 1  # acted on once
    assert await db[OUTBOX].count_documents({}) == 1  # kept after publishing
    await client.close()


class _Crash(Exception):
    pass


async def _crash(*args, **kwargs):
    raise _Crash


async def test_same_event_twice_has_one_effect(infra_env, unique, ntf_settings):
    case = f"DUP{unique}"
    event = submitted(case)
    body, headers = event.to_wire()
    topic = topic_for(event).name
    async with running(notifications_app(ntf_settings)) as ntf:
        await produce(infra_env.kafka_bootstrap, topic, body, headers, case)
        await produce(infra_env.kafka_bootstrap, topic, body, headers, case)
        # A third event on the same key lands in the same partition after both copies.
        marker = submitted(case)
        await produce(infra_env.kafka_bootstrap, topic, *marker.to_wire(), case)
        kit = ntf.kit
        await eventually(lambda: _processed(kit, marker.event_id))
        assert len(await messages(ntf, case)) == 2  # the original once + the marker
        assert await kit.db["messages"].count_documents({"source_event_id": event.event_id}) == 1


async def _processed(kit, event_id):
    return await kit.db["processed_events"].count_documents({"event_id": event_id}) == 1


async def test_malformed_event_goes_to_dead_letter_topic_and_consumer_goes_on(infra_env, unique, ntf_settings):
    case = f"DLQ{unique}"
    topic = topic_for(ApplicationSubmittedV1).name
    good = submitted(case)
    bad_body = json.dumps({"application_id": case, "company_name": 42}).encode()
    _, bad_headers = good.to_wire()
    bad_headers = {**bad_headers, "ce_id": f"bad-{unique}"}
    async with running(notifications_app(ntf_settings)) as ntf:
        await produce(infra_env.kafka_bootstrap, topic, bad_body, bad_headers, case)
        await produce(infra_env.kafka_bootstrap, topic, b"not json at all", {"ce_type": good.ce_type, "ce_id": f"raw-{unique}"}, case)
        await produce(infra_env.kafka_bootstrap, topic, *good.to_wire(), case)
        got = await eventually(lambda: messages(ntf, case))
        assert len(got) == 1

    async def dead():
        recs = await read_all(infra_env.kafka_bootstrap, dead_letter_topic("notifications"))
        mine = [r for r in recs if r.key == case.encode()]
        return mine if len(mine) == 2 else None

    records = await eventually(dead)
    headers = [{k: v.decode() for k, v in r.headers} for r in records]
    by_id = {h["ce_id"]: h for h in headers}
    invalid = by_id[f"bad-{unique}"]
    assert "company_name" in invalid["dlq_reason"] and "applicant_id" in invalid["dlq_reason"]
    assert invalid["dlq_source_topic"] == topic
    assert invalid["dlq_consumer_group"] == "notifications"
    assert int(invalid["dlq_source_offset"]) >= 0 and "dlq_source_partition" in invalid
    assert invalid["ce_caseno"] == case  # original headers kept
    assert "not JSON" in by_id[f"raw-{unique}"]["dlq_reason"]
    assert {r.value for r in records} == {bad_body, b"not json at all"}
