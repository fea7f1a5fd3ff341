"""Partner subscriptions' delivery health for the operators (``GET /ops/subscriptions/health``):
one agency's endpoint answers, another's fails until its delivery is given up; the figures say
so per subscription, with the last failure's reason. The notifications service in-process on
the real broker and database; the agencies' endpoints are the webhook tests' fake."""

from __future__ import annotations

import httpx

from contracts.events import registration as reg
from servicekit.auth import Role
from tests.component.test_webhook_subscriptions import (
    OPERATOR,
    agency,
    app,
    licence,
    subscribe,
)
from tests.component.test_webhook_subscriptions import (
    agencies as agencies,
)
from tests.component.test_webhook_subscriptions import (
    settings as settings,
)
from tests.support.apps import running
from tests.support.auth import bearer
from tests.support.events import publish
from tests.support.waiting import eventually

PATH = "/ops/subscriptions/health"


async def test_delivery_health_per_subscription_with_the_last_failure(infra_env, unique, settings, agencies):
    case = f"HL{unique}"
    agencies.script["failing.test"] = [httpx.Response(500)] * 3  # every attempt fails: given up after the last
    async with running(app(settings, agencies)) as ntf:
        assert (await ntf.get(PATH, headers=OPERATOR)).json() == []
        good = await subscribe(ntf, agencies, "healthy", [reg.LicenceIssuedV1], case=case)
        bad = await subscribe(ntf, agencies, "failing", [reg.LicenceIssuedV1], case=case)
        await publish(infra_env.kafka_bootstrap, licence(case, "establishment"))

        async def settled():
            r = await ntf.get(PATH, headers=bearer("sv-1", Role.SUPERVISOR))
            assert r.status_code == 200, r.text
            rows = {h["subscription_id"]: h for h in r.json()}
            done = rows[good["subscription_id"]]["delivered_24h"] == 1 and rows[bad["subscription_id"]]["pending"] == 0 \
                and rows[bad["subscription_id"]]["failed_24h"] == 1
            return rows if done else None

        rows = await eventually(settled, timeout=30, what="one delivered, one given up")
        ok, failing = rows[good["subscription_id"]], rows[bad["subscription_id"]]
        assert (ok["agency_id"], ok["enabled"], ok["failed_24h"], ok["pending"]) == ("healthy", True, 0, 0)
        assert ok["last_success_at"] is not None and ok["last_failure_at"] is None and ok["last_failure_reason"] is None
        assert (failing["agency_id"], failing["delivered_24h"], failing["last_success_at"]) == ("failing", 0, None)
        assert failing["last_failure_at"] is not None and "500" in failing["last_failure_reason"]
        assert len(agencies.received["failing.test"]) == 3

        r = await ntf.post(f"/subscriptions/{bad['subscription_id']}/disable", headers=agency("failing"))
        assert r.status_code == 200, r.text
        after = {h["subscription_id"]: h for h in (await ntf.get(PATH, headers=OPERATOR)).json()}
        assert after[bad["subscription_id"]]["enabled"] is False

        for who, code in ((agency("failing"), 403), (bearer("u-1"), 403), (bearer("w-1", Role.WINDOW_STAFF), 403),
                          ({}, 401)):
            r = await ntf.get(PATH, headers=who)
            assert r.status_code == code and r.headers["content-type"] == "application/problem+json"
