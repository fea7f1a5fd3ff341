"""The kit's topic prefix (``kafka_topic_prefix``): two platforms (regions) on one broker kept
apart. A prefixed service consumes the prefixed topics under a prefixed group, dead-letters to
its prefixed dead-letter topic, and its relay publishes to the prefixed topics."""

from __future__ import annotations

from contracts import dead_letter_topic, topic_for
from contracts.events.crossregion import CaseForwardedV1
from contracts.events.registration import ApplicationSubmittedV1
from crossregion.bootstrap import create_app as crossregion_app
from crossregion.config import Settings as CrossregionSettings
from notifications.bootstrap import create_app as notifications_app
from notifications.config import Settings as NotificationSettings
from servicekit.config import load
from servicekit.topics import ensure_topics
from tests.support.apps import running
from tests.support.auth import bearer
from tests.support.events import make
from tests.support.kafka import produce, read_all
from tests.support.waiting import eventually


async def test_a_prefixed_service_reads_writes_and_dead_letters_only_its_prefixed_topics(infra_env, unique):
    prefix = f"p{unique}."
    await ensure_topics(infra_env.kafka_bootstrap)  # the unprefixed ones too (read at the end)
    case = f"PFX{unique}"
    good = make(ApplicationSubmittedV1, case, source="/tests", application_id=case, company_name="兰州测试有限公司",
                applicant_id="u-1", channel="web")
    topic = prefix + topic_for(good).name
    settings = load(NotificationSettings, mongodb_database=f"ntf_{unique}", kafka_topic_prefix=prefix)
    async with running(notifications_app(settings)) as ntf:
        await produce(infra_env.kafka_bootstrap, topic, b"not json at all",
                      {"ce_type": good.ce_type, "ce_id": f"raw-{unique}"}, case)
        await produce(infra_env.kafka_bootstrap, topic, *good.to_wire(), case)

        async def told():
            r = await ntf.get("/messages", params={"case_number": case}, headers=bearer("u-1"))
            return r.json()

        assert len(await eventually(told)) == 1

    async def dead():
        recs = await read_all(infra_env.kafka_bootstrap, prefix + dead_letter_topic("notifications"))
        return [r for r in recs if r.key == case.encode()]

    [record] = await eventually(dead)
    headers = {k: v.decode() for k, v in record.headers}
    assert headers["dlq_source_topic"] == topic and headers["dlq_consumer_group"] == prefix + "notifications"

    xr = load(CrossregionSettings, mongodb_database=f"xr_{unique}", kafka_topic_prefix=prefix)
    async with running(crossregion_app(xr)) as client:
        r = await client.post("/cross-cases/online", headers=bearer(f"u-{unique}"), json={
            "matter": "licence_change", "form": {"company_name": "x"}})
        assert r.status_code == 201, r.text
        reference = r.json()["reference"]

        async def published():
            recs = await read_all(infra_env.kafka_bootstrap, prefix + topic_for(CaseForwardedV1).name)
            return [x for x in recs if x.key == reference.encode()]

        assert len(await eventually(published)) == 1
    unprefixed = await read_all(infra_env.kafka_bootstrap, topic_for(CaseForwardedV1).name)
    assert not [x for x in unprefixed if x.key == reference.encode()]
