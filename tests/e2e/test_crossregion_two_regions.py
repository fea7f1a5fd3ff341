"""Two regions end to end, every part its own process: region A (金昌, where the company is
registered) runs registration, crossregion and the simulated departments; region B (武威, where
the applicant walks in) runs registration, crossregion and notifications. Each region has its own
databases and keys; they share the broker with their topics and consumer groups kept apart (B's
prefixed). B's window takes a licence change for A's company (异地代收代办); A's registration
handles it; B sees each status, the applicant is messaged at each step, and B hands out the result."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from crossregion.signatures import Keyring, new_seed, private_key, public_key_text
from devstack.gateways import GatewayProcess
from registration.domain import make_uscc
from servicekit.auth import Role
from tests.support.auth import bearer
from tests.support.processes import ServiceProcess
from tests.support.waiting import wait_for

JINCHANG, WUWEI = "620300", "620600"
OPERATOR, STAFF_A, STAFF_B = bearer("op-1", Role.OPERATOR), bearer("w-a", Role.WINDOW_STAFF), bearer("w-b", Role.WINDOW_STAFF)
PHONE = "13987654321"


@pytest.fixture
def gateways(tmp_path):
    gw = GatewayProcess(log_path=tmp_path / "gateways.log").start()
    yield gw
    gw.stop()


def crossregion_env(code: str, name: str, kid: str, seed: str) -> dict[str, str]:
    return {"CROSSREGION_REGION_CODE": code, "CROSSREGION_REGION_NAME": name,
            "CROSSREGION_SIGNING_KEYS": json.dumps([f"{kid}:{seed}"]), "CROSSREGION_EXCHANGE_ALLOW_HTTP": "true",
            "CROSSREGION_OUTBOUND_ALLOW": '["127.0.0.1"]', "CROSSREGION_DELIVERY_POLL_SECONDS": "0.2",
            "CROSSREGION_DELIVERY_BACKOFF_BASE_SECONDS": "0.2", "CROSSREGION_DELIVERY_BACKOFF_CAP_SECONDS": "1"}


def partner(code: str, name: str, url: str, kid: str, seed: str) -> dict:
    return {"division_code": code, "name": name, "endpoint": f"{url}/exchange", "key_id": kid,
            "public_key": public_key_text(private_key(seed)), "matters": ["licence_change"], "modes": ["proxy"]}


@pytest.fixture
def region_b(service_env, unique, tmp_path, gateways):
    """Region B's processes: its own databases, its topics and groups prefixed."""
    started: list[ServiceProcess] = []
    env = {**service_env, "KAFKA_TOPIC_PREFIX": f"rb{unique}.",
           **{f"{p}MONGODB_DATABASE": f"{n}_b_{unique}" for n, p in
              (("registration", "REGISTRATION_"), ("crossregion", "CROSSREGION_"), ("notifications", "NOTIFICATIONS_"))}}

    def start(name: str, **extra: str) -> ServiceProcess:
        proc = ServiceProcess(f"{name}-b", {**env, **extra}, tmp_path / f"{name}-b.log", app=f"{name}.main:app",
                              env_prefix=f"{name.upper()}_").start()
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()


def test_region_b_takes_a_licence_change_region_a_handles_it_b_hands_out_the_result(
        start_service, start_departments, region_b, gateways, unique):
    seed_a, seed_b = new_seed(), new_seed()
    # region A: the company's home
    reg_a = start_service("registration")
    xr_a = start_service("crossregion", **crossregion_env(JINCHANG, "金昌市", "jc-1", seed_a))
    start_departments()
    # region B: where the applicant walks in
    region_b("registration")
    xr_b = region_b("crossregion", **crossregion_env(WUWEI, "武威市", "wu-1", seed_b))
    region_b("notifications", **gateways.settings_env(), NOTIFICATIONS_DEFAULT_QUIET_HOURS="off",
             NOTIFICATIONS_DELIVERY_POLL_SECONDS="0.2")

    # each center knows the other: endpoint, key id and public key (exchanged out of band)
    r = httpx.post(f"{xr_a.url}/regions", headers=OPERATOR, json=partner(WUWEI, "武威市", xr_b.url, "wu-1", seed_b))
    assert r.status_code == 200, r.text
    r = httpx.post(f"{xr_b.url}/regions", headers=OPERATOR, json=partner(JINCHANG, "金昌市", xr_a.url, "jc-1", seed_a))
    assert r.status_code == 200, r.text

    # B's window: identity checked and formal review passed here; the case file goes to A
    applicant = f"u-wuwei-{unique}"
    form = {"unified_social_credit_code": make_uscc(JINCHANG, 7), "company_name": f"金昌{unique}示范科技有限公司",
            "business_scope": ["软件开发", "技术服务"], "materials": ["change_application", "change_resolution"]}
    r = httpx.post(f"{xr_b.url}/cross-cases", headers=STAFF_B, json={
        "mode": "proxy", "matter": "licence_change", "handling_regions": [JINCHANG], "applicant_id": applicant,
        "applicant_phone": PHONE, "form": form, "deliver_at": "origin"})
    assert r.status_code == 201, r.text
    reference = r.json()["reference"]
    r = httpx.post(f"{xr_b.url}/cross-cases/{reference}/custody", headers=STAFF_B,
                   json={"action": "sent", "waybill": "EMS1234567890", "carrier": "EMS"})
    assert r.status_code == 200, r.text

    # A received it over the signed exchange; registration made it a case of its own
    def at_a():
        r = httpx.get(f"{xr_a.url}/cross-cases/{reference}", headers=STAFF_A)
        return r.status_code == 200 and r.json()["parts"][0]["remote_case_number"] and r.json()
    case_a = wait_for(at_a, what="the case registered at region A")
    case_number = case_a["parts"][0]["remote_case_number"]
    assert case_a["origin_region"] == WUWEI and case_a["direction"] == "inbound"

    # A's window accepts it (the materials arrive by courier); the department approves the licence change
    r = httpx.post(f"{xr_a.url}/cross-cases/{reference}/custody", headers=STAFF_A,
                   json={"action": "received", "waybill": "EMS1234567890", "carrier": "EMS"})
    assert r.status_code == 200, r.text
    r = httpx.post(f"{reg_a.url}/cases/{case_number}/window-check", headers=STAFF_A, json={})
    assert r.status_code == 200 and r.json()["status"] == "accepted", r.text

    # B sees each status change (registration's topics are not ordered among themselves: the licence may
    # be reported after the completion) and the result arrives at its window
    steps = ("forwarded", "materials_sent", "registered", "materials_received", "accepted", "licence_issued",
             "completed", "result_ready")

    def ready_at_b():
        body = httpx.get(f"{xr_b.url}/cross-cases/{reference}", headers=STAFF_B).json()
        actions = {t["action"] for t in body["timeline"]}
        return body["status"] == "result_ready" and all(s in actions for s in steps) and body
    body = wait_for(ready_at_b, timeout=60, what=f"the result at region B's window after {steps}")
    assert body["parts"][0]["remote_case_number"] == case_number

    r = httpx.post(f"{xr_b.url}/cross-cases/{reference}/hand-out", headers=STAFF_B)
    assert r.status_code == 200 and r.json()["status"] == "handed_out", r.text

    # the applicant was told each step, by SMS from region B
    expected = ("已在本窗口受理", "已登记", "已受理", "已核发营业执照", "结果已到达本窗口", "好差评", "结果已领取")

    def texts():
        got = [s["text"] for s in gateways.received(to=PHONE, case_number=reference)]
        return got if all(any(e in t for t in got) for e in expected) else None
    sent = wait_for(texts, timeout=30, what=f"the applicant's messages {expected}")
    assert all(t.startswith("【一窗通办】") and reference in t for t in sent), sent

    # region A's center is down: B's window takes the next case; it waits in B's backlog
    accepted_before = [x for x in audit(xr_a) if x["outcome"] == "accepted"]
    xr_a.stop()
    r = httpx.post(f"{xr_b.url}/cross-cases", headers=STAFF_B, json={
        "mode": "proxy", "matter": "licence_change", "handling_regions": [JINCHANG], "applicant_id": applicant,
        "applicant_phone": PHONE, "form": {**form, "business_scope": ["软件开发"]}, "deliver_at": "origin"})
    assert r.status_code == 201, r.text
    second = r.json()["reference"]

    def waiting():
        got = httpx.get(f"{xr_b.url}/ops/exchanges/backlog", headers=OPERATOR).json()
        return got["pending"] >= 1 and got["oldest_age_seconds"] >= 1.0 and got
    backlog = wait_for(waiting, what="the exchange waiting in B's backlog")
    assert backlog["by_region"] == {JINCHANG: backlog["pending"]}
    xr_a.start()  # back, same address and database
    arrived = wait_for(lambda: httpx.get(f"{xr_a.url}/cross-cases/{second}", headers=STAFF_A).status_code == 200,
                       what="the second case at region A")
    assert arrived
    wait_for(lambda: httpx.get(f"{xr_b.url}/ops/exchanges/backlog", headers=OPERATOR).json()["pending"] == 0,
             what="B's backlog drained")
    trail = audit(xr_a)
    assert len([x for x in trail if x["outcome"] == "accepted"]) == len(accepted_before) + 1  # delivered once
    assert not [x for x in trail if x["outcome"] != "accepted"]  # no duplicate, nothing refused

    # a form A's registration cannot take: no case there; B hears why and the applicant is told
    r = httpx.post(f"{xr_b.url}/cross-cases", headers=STAFF_B, json={
        "mode": "proxy", "matter": "licence_change", "handling_regions": [JINCHANG], "applicant_id": applicant,
        "applicant_phone": PHONE, "form": {"company_name": form["company_name"]}, "deliver_at": "origin"})
    assert r.status_code == 201, r.text
    bad = r.json()["reference"]

    def rejected_at_b():
        body = httpx.get(f"{xr_b.url}/cross-cases/{bad}", headers=STAFF_B).json()
        return body["status"] == "rejected" and body
    rejected = wait_for(rejected_at_b, what="the refused form reported to region B")
    assert "unified_social_credit_code" in rejected["timeline"][-1]["detail"]
    wait_for(lambda: [s for s in gateways.received(to=PHONE, case_number=bad) if "未予通过" in s["text"]],
             what="the applicant told the form was refused")

    # B's key is rotated at A: the previous one stays valid for a short overlap, then is refused
    old, new_seed_b = Keyring([("wu-1", seed_b)]), new_seed()
    new = Keyring([("wu-2", new_seed_b)])
    overlap_until = datetime.now(UTC) + timedelta(seconds=4)
    r = httpx.post(f"{xr_a.url}/regions/{WUWEI}/keys", headers=OPERATOR, json={
        "key_id": "wu-2", "public_key": public_key_text(private_key(new_seed_b)),
        "overlap_until": overlap_until.isoformat()})
    assert r.status_code == 200, r.text
    assert exchange(xr_a, old, form).status_code == 200  # during the overlap: the previous key
    assert exchange(xr_a, new, form).status_code == 200  # and the new one
    wait_for(lambda: datetime.now(UTC) > overlap_until + timedelta(seconds=0.5), what="the end of the overlap")
    refused = exchange(xr_a, old, form)
    assert refused.status_code == 401 and "unknown or retired key id" in refused.json()["detail"], refused.text
    assert audit(xr_a)[0]["outcome"] == "refused" and audit(xr_a)[0]["key_id"] == "wu-1"
    assert exchange(xr_a, new, form).status_code == 200


def exchange(xr, keys: Keyring, form: dict) -> httpx.Response:
    """A case forwarded by region B, signed with ``keys``, straight to ``xr``'s exchange endpoint."""
    body = json.dumps({"exchange_id": f"{WUWEI}.{uuid.uuid4().hex}", "sender": WUWEI,
                       "sent_at": datetime.now(UTC).isoformat(),
                       "body": {"kind": "case.forwarded", "reference": f"{WUWEI}-20261127-{uuid.uuid4().hex[:8].upper()}",
                                "matter": "licence_change", "mode": "proxy", "applicant_id": "u-rotation",
                                "form": form}}).encode()
    headers = keys.sign(url=f"{xr.url}/exchange", body=body, now=datetime.now(UTC), expires_in=timedelta(seconds=60))
    return httpx.post(f"{xr.url}/exchange", content=body, headers=headers)


def audit(xr) -> list[dict]:
    r = httpx.get(f"{xr.url}/ops/exchanges/audit", headers=OPERATOR)
    assert r.status_code == 200, r.text
    return r.json()

