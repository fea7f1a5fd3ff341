"""The operator API every service gets from the kit: ``POST /ops/outbox/republish``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from contracts import topic_for
from contracts.events.registration import ApplicationSubmittedV1
from registration.bootstrap import create_app
from registration.config import Settings
from servicekit.auth import Role
from servicekit.config import load
from servicekit.outbox import RelayRecord
from tests.support.apps import running
from tests.support.auth import bearer
from tests.support.forms import company_form
from tests.support.kafka import read_all
from tests.support.waiting import eventually

OPERATOR = bearer("op-1", Role.OPERATOR)
PATH = "/ops/outbox/republish"


async def test_operators_republish_a_time_range_others_are_refused(infra_env, unique) -> None:
    settings = load(Settings, mongodb_database=f"reg_{unique}")
    since = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    async with running(create_app(settings)) as reg:
        r = await reg.post("/cases", json={"form": company_form(f"嘉峪关{unique}钢铁有限公司")}, headers=bearer("u-1"))
        assert r.status_code == 201, r.text
        case = r.json()["case_number"]

        async def relayed():
            mark = await RelayRecord(reg.kit.db).load()
            return mark is not None and mark.published == 1

        await eventually(relayed)

        for who, status in ((None, 401), (bearer("u-1"), 403), (bearer("w-1", Role.WINDOW_STAFF), 403)):
            r = await reg.post(PATH, json={"since": since}, headers=who or {})
            assert r.status_code == status, r.text
            assert r.headers["content-type"] == "application/problem+json"

        r = await reg.post(PATH, json={"since": since, "sinse": since}, headers=OPERATOR)
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
        assert [e["field"] for e in r.json()["errors"]] == ["sinse"] and "sinse" in r.json()["detail"]
        for bad, field in (({"since": "2026-11-27T10:00:00"}, "since"),  # no UTC offset
                           ({"since": since, "topic": "x" * 250}, "topic"),
                           ({"since": since, "topic": "no such topic"}, "topic"),
                           ({"since": since, "topic": "registration.no-such.v1"}, "topic"),
                           ({"since": since, "limit": 0}, "limit"),
                           ({"since": since, "until": since}, "until")):
            r = await reg.post(PATH, json=bad, headers=OPERATOR)
            assert r.status_code == 422, (bad, r.text)
            assert field in {e["field"] for e in r.json()["errors"]}, (bad, r.json())

        r = await reg.post(PATH, json={"since": since, "topic": topic_for(ApplicationSubmittedV1).name},
                           headers=OPERATOR)
        assert r.status_code == 200, r.text
        assert r.json()["published"] == 1 and r.json()["more"] is False
        event_id = r.json()["first_event_id"]

    records = await read_all(infra_env.kafka_bootstrap, topic_for(ApplicationSubmittedV1).name)
    mine = [dict(rec.headers)["ce_id"].decode() for rec in records if rec.key == case.encode()]
    assert mine == [event_id, event_id]  # published by the relay, then again: same ce_id
