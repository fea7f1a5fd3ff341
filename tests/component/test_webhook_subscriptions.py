"""Partner-agency subscriptions: the notifications service in-process over HTTP, on the real
broker and database. The agencies' endpoints are an in-process fake (httpx MockTransport) that verifies every signature
with the Standard Webhooks library and answers as each test scripts it."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from datetime import UTC, datetime

import httpx
import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from contracts import topic_for
from contracts.events import registration as reg
from contracts.events.notifications import WebhookDeadLetteredV1
from notifications.bootstrap import create_app
from notifications.config import Settings
from servicekit.auth import Role
from servicekit.config import load
from tests.support.apps import running
from tests.support.auth import bearer
from tests.support.events import make, publish
from tests.support.kafka import read_all
from tests.support.waiting import eventually

DUE = datetime(2026, 3, 4, 16, 0, tzinfo=UTC)
# What the simulated DNS answers for the agencies' hosts: a public address (the mock transport
# answers for it; nothing leaves the machine).
PUBLIC = "93.184.215.14"
FORM = {"legal_representative": {"name": "王五", "id_number": "620102199001011234", "phone": "13912345678"}}


class Agencies:
    """Webhook endpoints by host: verify, record, answer from a script (then 204)."""

    def __init__(self) -> None:
        self.secrets: dict[str, str] = {}
        self.script: dict[str, list[httpx.Response]] = defaultdict(list)
        self.received: dict[str, list[dict]] = defaultdict(list)
        self.bad_signatures = 0
        self.connected: list[str] = []  # the addresses requests went to
        self.dns: dict[str, list[str]] = {}  # the simulated DNS (no real lookups)

    async def resolve(self, host: str, port: int) -> list[str]:
        if host in self.dns:
            return self.dns[host]
        if host.endswith(".test"):
            return [PUBLIC]
        raise OSError(f"no such host {host}")

    def handler(self, request: httpx.Request) -> httpx.Response:
        host = request.headers["host"]  # the webhook client connects to the address it checked
        if host not in self.secrets:  # a provider gateway: accept
            return httpx.Response(200, json={"id": "ok"})
        self.connected.append(request.url.host)
        try:
            event = Webhook(self.secrets[host]).verify(request.content, dict(request.headers))
        except WebhookVerificationError:
            self.bad_signatures += 1
            return httpx.Response(401)
        self.received[host].append({"at": time.monotonic(), "webhook_id": request.headers["webhook-id"],
                                    "event": event, "content_type": request.headers["content-type"]})
        return self.script[host].pop(0) if self.script[host] else httpx.Response(204)


@pytest.fixture
def agencies() -> Agencies:
    return Agencies()


@pytest.fixture
def settings(infra_env, unique) -> Settings:
    return load(Settings, mongodb_database=f"ntf_{unique}", default_quiet_hours="off", webhook_poll_seconds=0.1,
                webhook_retry_schedule_seconds=[0.1, 0.1], webhook_jitter=0.0, feed_settle_seconds=0,
                delivery_poll_seconds=1, webhook_allow_http=True)


def app(settings, agencies):
    return create_app(settings, transport=httpx.MockTransport(agencies.handler), resolver=agencies.resolve)


def agency(agency_id: str) -> dict[str, str]:
    return bearer(f"sys-{agency_id}", Role.PARTNER_AGENCY, agency_id=agency_id)


OPERATOR = bearer("op-1", Role.OPERATOR)


async def subscribe(client, agencies, agency_id: str, types: list[type], case: str | None = None,
                    filters: dict | None = None, **body) -> dict:
    """Subscribe ``agency_id``; with ``case``, to that case only (earlier tests' events wait on
    the shared broker for the notifications group: they must not reach this test's agencies)."""
    host = f"{agency_id.replace('_', '-')}.test"
    filters = ({"case_number": case} if case else {}) | (filters or {})
    body = {"event_types": [t.ce_type for t in types], "webhook_url": f"http://{host}/hooks/one-window",
            "filters": filters} | body
    r = await client.post("/subscriptions", json=body, headers=agency(agency_id))
    assert r.status_code == 201, r.text
    sub = r.json()
    if sub["webhook_url"]:
        assert sub["secret"].startswith("whsec_")
        agencies.secrets[host] = sub["secret"]
    return sub


def requested(case: str, department: str) -> reg.StepRequestedV1:
    step = {"public_security": "seal", "tax": "tax"}[department]
    return make(reg.StepRequestedV1, case, step=step, department=department, attempt=1, due_at=DUE, form=FORM)


def licence(case: str, kind: str) -> reg.LicenceIssuedV1:
    return make(reg.LicenceIssuedV1, case, company_name="兰州一窗科技有限公司",
                unified_social_credit_code="91620100MA74A1B2C3", applicant_id="u-1", kind=kind, issued_at=DUE)


def now_true(predicate):
    """An async check for ``eventually`` from a plain predicate."""

    async def check():
        return predicate() or None

    return check


async def processed(client, *events) -> bool:
    ids = [e.event_id for e in events]
    return await client.kit.db["processed_events"].count_documents({"event_id": {"$in": ids}}) == len(ids)


async def deliveries(client, agency_id, sub) -> list[dict]:
    r = await client.get(f"/subscriptions/{sub['subscription_id']}/deliveries", headers=agency(agency_id))
    assert r.status_code == 200, r.text
    return r.json()


async def test_subscriptions_are_scoped_to_the_calling_agency(infra_env, settings, agencies):
    async with running(app(settings, agencies)) as ntf:
        types = (await ntf.get("/event-types")).json()
        by_type = {t["type"]: t for t in types}
        assert by_type[reg.StepRequestedV1.ce_type]["topic"] == topic_for(reg.StepRequestedV1).name
        assert by_type[reg.StepRequestedV1.ce_type]["private_to_department"] is True
        assert by_type[reg.LicenceIssuedV1.ce_type]["private_to_department"] is False

        sub = await subscribe(ntf, agencies, "tax", [reg.StepRequestedV1], filters={"step": "tax"})
        assert sub["agency_id"] == "tax" and sub["filters"] == {"step": ["tax"]}
        assert [s["subscription_id"] for s in (await ntf.get("/subscriptions", headers=agency("tax"))).json()
                ] == [sub["subscription_id"]]
        assert (await ntf.get("/subscriptions", headers=agency("public_security"))).json() == []
        other = await ntf.get(f"/subscriptions/{sub['subscription_id']}", headers=agency("public_security"))
        assert other.status_code == 404
        ops = await ntf.get("/subscriptions", headers=OPERATOR)
        assert sub["subscription_id"] in [s["subscription_id"] for s in ops.json()]
        assert "secret" not in ops.json()[0]  # shown once, at creation

        bad = await ntf.post("/subscriptions", headers=agency("tax"),
                             json={"event_types": ["cn.gov.other.thing.v1"], "webhook_url": "ftp://x"})
        assert bad.status_code == 422
        assert {e["field"] for e in bad.json()["errors"]} == {"event_types.0", "webhook_url"}
        reviewer = bearer("r-1", Role.REVIEWER, department="tax")
        assert (await ntf.post("/subscriptions", headers=reviewer, json={"event_types": []})).status_code == 403
        entitle = await ntf.put("/agencies/tax", json={"personal_data": True}, headers=agency("tax"))
        assert entitle.status_code == 403  # only operators entitle


async def test_an_agency_gets_only_its_own_private_events_masked_unless_entitled(infra_env, unique, settings,
                                                                                 agencies):
    case = f"WB{unique}"
    async with running(app(settings, agencies)) as ntf:
        police = await subscribe(ntf, agencies, "public_security", [reg.StepRequestedV1], case)
        tax = await subscribe(ntf, agencies, "tax", [reg.StepRequestedV1], case)
        utility = await subscribe(ntf, agencies, "water_utility", [reg.LicenceIssuedV1], case,
                                  filters={"kind": "establishment"})
        events = [requested(case, "public_security"), requested(case, "tax"), licence(case, "establishment"),
                  licence(case, "change")]
        await publish(infra_env.kafka_bootstrap, *events)
        await eventually(lambda: processed(ntf, *events))

        async def pushed():
            return all(len(agencies.received[h]) == 1
                       for h in ("public-security.test", "tax.test", "water-utility.test")) or None

        await eventually(pushed)
        got = {h: [r["event"] for r in agencies.received[h]] for h in agencies.received}
        assert [e["id"] for e in got["public-security.test"]] == [events[0].event_id]
        assert [e["id"] for e in got["tax.test"]] == [events[1].event_id]
        assert [e["id"] for e in got["water-utility.test"]] == [events[2].event_id]
        person = got["tax.test"][0]["data"]["form"]["legal_representative"]
        assert (person["id_number"], person["phone"]) == ("620102********1234", "139****5678")
        assert got["tax.test"][0]["type"] == reg.StepRequestedV1.ce_type and got["tax.test"][0]["caseno"] == case
        assert agencies.received["tax.test"][0]["content_type"] == "application/cloudevents+json"
        for name, sub in (("public_security", police), ("tax", tax), ("water_utility", utility)):
            assert [d["status"] for d in await deliveries(ntf, name, sub)] == ["delivered"]

        r = await ntf.put("/agencies/tax", json={"personal_data": True}, headers=OPERATOR)
        assert r.status_code == 200 and r.json() == {"agency_id": "tax", "departments": ["tax"], "personal_data": True}
        again = requested(case, "tax")
        await publish(infra_env.kafka_bootstrap, again)
        await eventually(now_true(lambda: len(agencies.received["tax.test"]) == 2))
        assert agencies.received["tax.test"][1]["event"]["data"]["form"] == FORM
        assert agencies.bad_signatures == 0


async def test_retry_after_is_honoured(infra_env, unique, settings, agencies):
    case = f"WR{unique}"
    agencies.script["tax.test"] = [httpx.Response(429, headers={"Retry-After": "1"})]
    async with running(app(settings, agencies)) as ntf:
        sub = await subscribe(ntf, agencies, "tax", [reg.StepRequestedV1], case)
        await publish(infra_env.kafka_bootstrap, requested(case, "tax"))
        await eventually(now_true(lambda: len(agencies.received["tax.test"]) == 2))
        first, second = agencies.received["tax.test"]
        assert second["at"] - first["at"] >= 0.95  # the schedule said 0.1 s, the receiver asked for 1 s
        assert first["webhook_id"] == second["webhook_id"]
        [d] = await eventually(lambda: _final(ntf, "tax", sub))
        assert (d["status"], d["attempts"], [h["status_code"] for h in d["history"]]) == ("delivered", 2, [429, 204])


async def _final(client, agency_id, sub):
    got = await deliveries(client, agency_id, sub)
    return got if got and all(d["status"] != "pending" for d in got) else None


async def test_410_gone_disables_the_subscription(infra_env, unique, settings, agencies):
    case = f"WG{unique}"
    agencies.script["tax.test"] = [httpx.Response(410)]
    async with running(app(settings, agencies)) as ntf:
        sub = await subscribe(ntf, agencies, "tax", [reg.StepRequestedV1], case)
        await publish(infra_env.kafka_bootstrap, requested(case, "tax"))
        [d] = await eventually(lambda: _final(ntf, "tax", sub))
        assert (d["status"], d["last_status_code"]) == ("cancelled", 410)
        now = (await ntf.get(f"/subscriptions/{sub['subscription_id']}", headers=agency("tax"))).json()
        assert now["status"] == "disabled" and "410" in now["disabled_reason"]
        later = requested(case, "tax")
        await publish(infra_env.kafka_bootstrap, later)
        await eventually(lambda: processed(ntf, later))
        held = await deliveries(ntf, "tax", sub)
        assert sorted(d["status"] for d in held) == ["cancelled", "feed_only"]  # kept for the feed, not pushed
        assert len(agencies.received["tax.test"]) == 1
        back = await ntf.post(f"/subscriptions/{sub['subscription_id']}/enable", headers=agency("tax"))
        assert back.json()["status"] == "active"
        feed = (await ntf.get(f"/subscriptions/{sub['subscription_id']}/events", headers=agency("tax"))).json()
        assert later.event_id in [x["event"]["id"] for x in feed["entries"]]  # the agency catches up


async def test_after_the_last_try_the_webhook_is_dead_lettered_with_an_alert(infra_env, unique, settings, agencies):
    case = f"WD{unique}"
    agencies.script["tax.test"] = [httpx.Response(500) for _ in range(3)]
    async with running(app(settings, agencies)) as ntf:
        sub = await subscribe(ntf, agencies, "tax", [reg.StepRequestedV1], case)
        event = requested(case, "tax")
        await publish(infra_env.kafka_bootstrap, event)
        [d] = await eventually(lambda: _final(ntf, "tax", sub))
        assert (d["status"], d["attempts"], d["last_status_code"]) == ("dead_lettered", 3, 500)

    async def alert():
        recs = await read_all(infra_env.kafka_bootstrap, topic_for(WebhookDeadLetteredV1).name)
        return [r for r in recs if r.key == case.encode()]

    [rec] = await eventually(alert)
    dead = WebhookDeadLetteredV1.from_wire(rec.value, dict(rec.headers))
    assert (dead.webhook_id, dead.agency_id, dead.source_event_id, dead.attempts) == (
        d["webhook_id"], "tax", event.event_id, 3)


async def test_replay_the_feed_from_a_cursor(infra_env, unique, settings, agencies):
    case = f"WF{unique}"
    async with running(app(settings, agencies)) as ntf:
        sub = await subscribe(ntf, agencies, "tax", [reg.StepRequestedV1, reg.LicenceIssuedV1], case,
                              webhook_url=None)
        assert sub["secret"] is None
        events = [requested(case, "tax"), requested(case, "public_security"), licence(case, "change"),
                  requested(case, "tax")]
        for e in events:  # one at a time: the feed's order is the order they were handled
            await publish(infra_env.kafka_bootstrap, e)
            await eventually(lambda e=e: processed(ntf, e))
        url, me = f"/subscriptions/{sub['subscription_id']}/events", agency("tax")
        page1 = (await ntf.get(url, params={"limit": 2}, headers=me)).json()
        page2 = (await ntf.get(url, params={"limit": 2, "after": page1["next"]}, headers=me)).json()
        page3 = (await ntf.get(url, params={"limit": 2, "after": page2["next"]}, headers=me)).json()
        ids = [x["event"]["id"] for x in page1["entries"] + page2["entries"]]
        assert ids == [events[0].event_id, events[2].event_id, events[3].event_id]  # not the police's event
        assert page3 == {"entries": [], "next": page2["next"]}
        again = (await ntf.get(url, params={"limit": 10}, headers=me)).json()
        assert [x["event"]["id"] for x in again["entries"]] == ids  # replay from the start
        assert json.dumps(again).count("620102199001011234") == 0
        assert (await ntf.get(url, params={"after": "garbage!"}, headers=me)).status_code == 422
        assert (await ntf.get(url, headers=agency("public_security"))).status_code == 404


# -- outbound policy (SSRF): the platform never posts to its own or internal addresses --------------
INTERNAL_URLS = [
    "http://127.0.0.1:8004/subscriptions", "http://[::1]:8004/", "http://10.0.0.1/hook", "http://0.0.0.0/",
    "http://169.254.169.254/latest/meta-data/", "http://localhost:8090/received", "http://[::ffff:127.0.0.1]/",
    "http://2130706433/", "http://100.64.0.1/", "http://[fd00::1]/", "http://tax:secret@tax.test/hook",
]


async def test_webhooks_to_internal_addresses_are_refused_naming_the_field(infra_env, settings, agencies):
    async with running(app(settings, agencies)) as ntf:
        for url in INTERNAL_URLS:
            r = await ntf.post("/subscriptions", headers=agency("tax"),
                               json={"event_types": [reg.StepRequestedV1.ce_type], "webhook_url": url})
            assert r.status_code == 422, (url, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
            [err] = r.json()["errors"]
            assert err["field"] == "webhook_url" and err["message"].startswith("refused by outbound policy: "), url
        assert (await ntf.get("/subscriptions", headers=agency("tax"))).json() == []
    assert agencies.connected == []


async def test_production_takes_https_only(infra_env, settings, agencies):
    async with running(app(settings.model_copy(update={"webhook_allow_http": False}), agencies)) as ntf:
        r = await ntf.post("/subscriptions", headers=agency("tax"),
                           json={"event_types": [reg.StepRequestedV1.ce_type], "webhook_url": "http://tax.test/hook"})
        assert r.status_code == 422
        assert r.json()["errors"] == [{"field": "webhook_url",
                                       "message": "refused by outbound policy: must be an absolute https URL"}]
        ok = await ntf.post("/subscriptions", headers=agency("tax"),
                            json={"event_types": [reg.StepRequestedV1.ce_type], "webhook_url": "https://tax.test/h"})
        assert ok.status_code == 201


async def test_a_host_that_later_resolves_to_an_internal_address_is_refused_at_send_time(
        infra_env, unique, settings, agencies):
    """DNS rebinding: public when subscribed, private (or mixed) when sent. Nothing is connected to."""
    case = f"WS{unique}"
    async with running(app(settings, agencies)) as ntf:
        rebinding = await subscribe(ntf, agencies, "tax", [reg.StepRequestedV1], case)
        mixed = await subscribe(ntf, agencies, "public_security", [reg.StepRequestedV1], case,
                                filters={"department": "public_security"})
        agencies.dns["tax.test"] = ["10.0.0.7"]
        agencies.dns["public-security.test"] = [PUBLIC, "127.0.0.1"]
        await publish(infra_env.kafka_bootstrap, requested(case, "tax"), requested(case, "public_security"))
        [d] = await eventually(lambda: _final(ntf, "tax", rebinding))
        assert (d["status"], d["attempts"], d["last_status_code"]) == ("dead_lettered", 3, None)
        assert {h["error"] for h in d["history"]} == {"refused by outbound policy: private address"}
        [d] = await eventually(lambda: _final(ntf, "public_security", mixed))
        assert d["last_error"] == "refused by outbound policy: loopback address"
    assert agencies.connected == [] and not agencies.received


async def test_a_delivery_shows_the_status_code_and_a_fixed_reason_never_the_body(
        infra_env, unique, settings, agencies):
    case = f"WB{unique}"
    secret_body = "internal reply: token=abc123 db=mongodb://10.0.0.5"
    agencies.script["tax.test"] = [httpx.Response(500, text=secret_body),
                                   httpx.Response(302, headers={"Location": "http://169.254.169.254/"}),
                                   httpx.Response(401, json={"detail": secret_body})]
    async with running(app(settings, agencies)) as ntf:
        sub = await subscribe(ntf, agencies, "tax", [reg.StepRequestedV1], case)
        await publish(infra_env.kafka_bootstrap, requested(case, "tax"))
        [d] = await eventually(lambda: _final(ntf, "tax", sub))
        assert [(h["status_code"], h["error"]) for h in d["history"]] == [
            (500, "HTTP 500"), (302, "HTTP 302 (redirects are not followed)"), (401, "HTTP 401")]
        assert (d["last_status_code"], d["last_error"]) == (401, "HTTP 401")
        feed = await ntf.get(f"/subscriptions/{sub['subscription_id']}/events", headers=agency("tax"))
        text = (await ntf.get(f"/subscriptions/{sub['subscription_id']}/deliveries", headers=agency("tax"))).text
        assert "abc123" not in text + feed.text
    assert set(agencies.connected) == {PUBLIC}  # the redirect was not followed


async def test_unreachable_and_unknown_hosts_get_fixed_reasons(infra_env, unique, settings, agencies):
    case = f"WU{unique}"
    async with running(app(settings, agencies)) as ntf:
        sub = await subscribe(ntf, agencies, "tax", [reg.StepRequestedV1], case, webhook_url="http://nowhere.invalid/h")
        await publish(infra_env.kafka_bootstrap, requested(case, "tax"))
        [d] = await eventually(lambda: _final(ntf, "tax", sub))
        assert {h["error"] for h in d["history"]} == {"DNS lookup failed"}
