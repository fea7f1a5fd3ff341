"""``GET /ops/status`` (every service, from the kit): a poison message dead-lettered by the
service is counted with its reason and source topic, the consumer group's lag is reported,
the outbox backlog is there; operators and supervisors only. The service in-process on the
real broker and database, its topics under a prefix of its own (a fresh dead-letter topic)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from contracts import dead_letter_topic, topic_for
from contracts.events.registration import ApplicationSubmittedV1
from notifications.bootstrap import create_app
from notifications.config import Settings
from servicekit.auth import Role
from servicekit.config import load
from servicekit.mongo import OUTBOX, make_client
from servicekit.opsstatus import BrokerStatus
from servicekit.outbox import Position, RelayRecord, backlog
from tests.support.apps import running
from tests.support.auth import bearer
from tests.support.events import make
from tests.support.kafka import produce, read_all
from tests.support.waiting import eventually

OPERATOR, SUPERVISOR = bearer("op-1", Role.OPERATOR), bearer("sv-1", Role.SUPERVISOR)


async def test_a_dead_lettered_poison_message_is_counted_with_its_reason(infra_env, unique) -> None:
    prefix = f"s{unique}."
    case = f"OPS{unique}"
    good = make(ApplicationSubmittedV1, case, source="/tests", application_id=case, company_name="兰州运维测试有限公司",
                applicant_id="u-1", channel="web")
    topic = prefix + topic_for(good).name
    settings = load(Settings, mongodb_database=f"ntf_{unique}", kafka_topic_prefix=prefix, ops_status_cache_seconds=0)
    async with running(create_app(settings)) as ntf:
        first = await ntf.get("/ops/status", headers=OPERATOR)
        assert first.status_code == 200, first.text
        assert first.json()["dead_letters"] == {"topic": prefix + dead_letter_topic("notifications"), "total": 0,
                                                "by_reason": [], "recent": []}

        await produce(infra_env.kafka_bootstrap, topic, b"not json at all", {"ce_type": good.ce_type,
                                                                             "ce_id": f"raw-{unique}"}, case)
        await produce(infra_env.kafka_bootstrap, topic, *good.to_wire(), case)

        async def counted():
            body = (await ntf.get("/ops/status", headers=SUPERVISOR)).json()
            lag = [c for c in body["consumers"] if c["topic"] == topic]
            return body if body["dead_letters"]["total"] == 1 and lag and lag[0]["lag"] == 0 else None

        status = await eventually(counted, timeout=30, what="the poison counted and the group caught up")
        [record] = await read_all(infra_env.kafka_bootstrap, prefix + dead_letter_topic("notifications"))
        reason = dict(record.headers)["dlq_reason"].decode()
        [row] = status["dead_letters"]["by_reason"]
        assert (row["source_topic"], row["reason"], row["count"]) == (topic, reason, 1)
        assert "JSON" in reason or "json" in reason
        [recent] = status["dead_letters"]["recent"]
        assert (recent["source_topic"], recent["reason"], recent["key"]) == (topic, reason, case)
        assert {"group": prefix + "notifications", "topic": topic, "lag": 0} in status["consumers"]
        assert status["service"] == "notifications" and status["ready"] == {"broker": True, "database": True}
        assert status["errors"] == []

        async def relayed():
            body = (await ntf.get("/ops/status", headers=OPERATOR)).json()["outbox"]
            return body if body["pending"] == 0 else None

        outbox = await eventually(relayed)
        assert outbox["oldest_pending_age_seconds"] is None
        assert outbox["retained"] == await ntf.kit.db[OUTBOX].count_documents({})

        for who, code in ((bearer("w-1", Role.WINDOW_STAFF), 403), (bearer("o-1", Role.OVERSIGHT), 403), ({}, 401)):
            r = await ntf.get("/ops/status", headers=who)
            assert r.status_code == code and r.headers["content-type"] == "application/problem+json"

    # cached: a console refreshing every few seconds reads the broker once per period
    now = [0.0]
    cached = BrokerStatus(infra_env.kafka_bootstrap, prefix + dead_letter_topic("notifications"), dict,
                          cache_seconds=10, clock=lambda: now[0])
    assert (await cached.view()).dead_letters.total == 1
    now[0] = 9.0
    await cached.view()
    assert cached.reads == 1
    now[0] = 10.5
    await cached.view()
    assert cached.reads == 2


async def test_the_outbox_backlog_counts_rows_after_the_watermark_and_every_retained_row(infra_env, unique) -> None:
    client = make_client(infra_env.mongodb_uri)
    db = client[f"backlog_{unique}"]
    t0 = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
    try:
        assert await backlog(db) == (await backlog(db)).__class__(0, None, 0)
        await db[OUTBOX].insert_many([{"_id": f"e{i}", "created_at": t0 + timedelta(seconds=i), "idx": 0,
                                       "topic": "t", "key": "k", "body": b"", "headers": {}} for i in range(5)])
        before = await backlog(db)  # no watermark yet: all five wait for the relay
        assert (before.pending, before.oldest_pending_at, before.retained) == (5, t0, 5)
        await RelayRecord(db).save(None, Position(t0 + timedelta(seconds=2), 0, "e2"), 3)
        after = await backlog(db)
        assert (after.pending, after.oldest_pending_at, after.retained) == (2, t0 + timedelta(seconds=3), 5)
    finally:
        await client.drop_database(f"backlog_{unique}")
        await client.close()
