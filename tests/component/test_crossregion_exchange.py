"""The exchange between two regions' centers, in-process on the real broker and database (a
database each): signed requests refused when unsigned, malformed, tampered, signed with a wrong
or retired key, expired or replayed (4xx with the reason, an audit record, nothing created);
key rotation; a partner down then up (the backlog visible meanwhile, delivered once)."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx

from crossregion.bootstrap import create_app
from crossregion.config import Settings
from crossregion.signatures import Keyring, new_seed, private_key, public_key_text
from servicekit.auth import Role
from servicekit.clock import FrozenClock
from servicekit.config import load
from tests.support.apps import running
from tests.support.auth import bearer
from tests.support.waiting import eventually

JINCHANG, WUWEI = "620300", "620600"
OPERATOR, STAFF = bearer("op-1", Role.OPERATOR), bearer("w-1", Role.WINDOW_STAFF)
SEED_A, SEED_B, SEED_B2 = new_seed(), new_seed(), new_seed()
URL_A = "http://region-a.test/exchange"


def settings(unique: str, code: str, name: str, seed: str, kid: str, **kw) -> Settings:
    return load(Settings, mongodb_database=f"xr_{code}_{unique}", region_code=code, region_name=name,
                signing_keys=[f"{kid}:{seed}"], service_name=f"crossregion-{code}", exchange_allow_http=True,
                outbound_allow=["region-a.test", "region-b.test"], delivery_poll_seconds=0.1,
                delivery_backoff_base_seconds=0.1, delivery_backoff_cap_seconds=0.3, **kw)


async def resolver(host: str, port: int) -> list[str]:
    return ["127.0.0.1"]


def region_in(code: str, name: str, endpoint: str, kid: str, seed: str) -> dict:
    return {"division_code": code, "name": name, "endpoint": endpoint, "key_id": kid,
            "public_key": public_key_text(private_key(seed)), "matters": ["licence_change"], "modes": ["proxy", "joint"]}


def forwarded(reference: str | None = None, exchange_id: str | None = None) -> bytes:
    ref = reference or f"{WUWEI}-20260302-{uuid.uuid4().hex[:8].upper()}"
    return json.dumps({"exchange_id": exchange_id or f"{WUWEI}.{uuid.uuid4().hex}", "sender": WUWEI,
                       "sent_at": datetime.now(UTC).isoformat(),
                       "body": {"kind": "case.forwarded", "reference": ref, "matter": "licence_change", "mode": "proxy",
                                "applicant_id": "u-wuwei-1", "form": {"company_name": "金昌示范有限公司"}}}).encode()


def signed(body: bytes, keys: Keyring, *, kid: str | None = None, at: datetime | None = None,
           expires_in: float = 60) -> dict[str, str]:
    return keys.sign(url=URL_A, body=body, now=at or datetime.now(UTC), expires_in=timedelta(seconds=expires_in),
                     key_id=kid)


def reference_of(body: bytes) -> str:
    return json.loads(body)["body"]["reference"]


async def audit(client) -> list[dict]:
    r = await client.get("/ops/exchanges/audit", headers=OPERATOR)
    assert r.status_code == 200, r.text
    return r.json()


async def refused(client, body: bytes, headers: dict[str, str], status: int, reason: str) -> None:
    before = len(await audit(client))
    r = await client.post("/exchange", content=body, headers=headers)
    assert r.status_code == status, r.text
    assert reason in r.json()["detail"] and r.headers["content-type"].startswith("application/problem+json")
    trail = await audit(client)
    assert len(trail) == before + 1 and trail[0]["outcome"] == "refused" and reason in trail[0]["reason"]
    assert trail[0]["status"] == status
    try:
        ref = reference_of(body)
    except (ValueError, KeyError):
        return
    gone = await client.get(f"/cross-cases/{ref}", headers=STAFF)
    assert gone.status_code == 404, "a refused exchange created nothing"


async def test_unsigned_malformed_tampered_wrong_key_expired_and_replayed_requests_are_refused(infra_env, unique):
    keys_b = Keyring([("wu-1", SEED_B)])
    async with running(create_app(settings(unique, JINCHANG, "金昌市", SEED_A, "jc-1"))) as a:
        r = await a.post("/regions", headers=OPERATOR,
                         json=region_in(WUWEI, "武威市", "http://region-b.test/exchange", "wu-1", SEED_B))
        assert r.status_code == 200, r.text

        body = forwarded()
        await refused(a, body, {"content-type": "application/json"}, 401, "unsigned")
        tampered = body.replace(b"u-wuwei-1", b"u-wuwei-X")
        assert tampered != body
        await refused(a, tampered, signed(body, keys_b), 401, "Content-Digest does not match")
        bad_sig = signed(body, keys_b)
        sig = bad_sig["Signature"]
        bad_sig["Signature"] = sig[:6] + ("A" if sig[6] != "A" else "B") + sig[7:]
        await refused(a, body, bad_sig, 401, "does not verify")
        stranger = Keyring([("wu-9", new_seed())])
        await refused(a, body, signed(body, stranger), 401, "unknown or retired key id")
        await refused(a, body, signed(body, keys_b, at=datetime.now(UTC) - timedelta(minutes=20)), 401, "expired")
        junk = b'{"exchange_id": "x"}'
        await refused(a, junk, signed(junk, keys_b), 400, "malformed exchange")

        # accepted once; the same signed request again is a replay; a retry re-signed is a duplicate
        headers = signed(body, keys_b)
        ok = await a.post("/exchange", content=body, headers=headers)
        assert ok.status_code == 200 and ok.json()["outcome"] == "accepted", ok.text
        case = await a.get(f"/cross-cases/{reference_of(body)}", headers=STAFF)
        assert case.status_code == 200 and case.json()["direction"] == "inbound"
        await refused_again(a, body, headers)
        retry = await a.post("/exchange", content=body, headers=signed(body, keys_b))
        assert retry.status_code == 200 and retry.json()["outcome"] == "duplicate", retry.text


async def refused_again(a, body: bytes, headers: dict[str, str]) -> None:
    before = len(await audit(a))
    r = await a.post("/exchange", content=body, headers=headers)
    assert r.status_code == 409 and "replayed" in r.json()["detail"], r.text
    trail = await audit(a)
    assert len(trail) == before + 1 and trail[0]["outcome"] == "refused"


async def test_the_previous_key_is_accepted_during_the_overlap_and_refused_after(infra_env, unique):
    clock = FrozenClock(datetime.now(UTC))
    old, new = Keyring([("wu-1", SEED_B)]), Keyring([("wu-2", SEED_B2)])
    async with running(create_app(settings(unique, JINCHANG, "金昌市", SEED_A, "jc-1"), clock=clock)) as a:
        await a.post("/regions", headers=OPERATOR,
                     json=region_in(WUWEI, "武威市", "http://region-b.test/exchange", "wu-1", SEED_B))
        r = await a.post(f"/regions/{WUWEI}/keys", headers=OPERATOR,
                         json={"key_id": "wu-2", "public_key": public_key_text(private_key(SEED_B2)),
                               "overlap_until": (clock.now() + timedelta(hours=1)).isoformat()})
        assert r.status_code == 200, r.text
        for keys in (old, new):  # during the overlap: both
            body = forwarded()
            ok = await a.post("/exchange", content=body, headers=signed(body, keys))
            assert ok.status_code == 200, ok.text
        clock.advance(hours=2)  # the overlap is over
        body = forwarded()
        await refused(a, body, signed(body, old), 401, "unknown or retired key id")
        ok = await a.post("/exchange", content=body, headers=signed(body, new))
        assert ok.status_code == 200, ok.text


class Switch(httpx.AsyncBaseTransport):
    """Region A's center behind a switch: down (connection refused) or up."""

    def __init__(self) -> None:
        self.inner: httpx.AsyncBaseTransport | None = None
        self.calls = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.inner is None:
            raise httpx.ConnectError("connection refused", request=request)
        return await self.inner.handle_async_request(request)


async def test_a_partner_down_gets_the_backlog_once_it_is_back(infra_env, unique):
    switch = Switch()
    app_b = create_app(settings(unique, WUWEI, "武威市", SEED_B, "wu-1"), transport=switch, resolver=resolver)
    async with running(app_b) as b:
        r = await b.post("/regions", headers=OPERATOR, json=region_in(JINCHANG, "金昌市", URL_A, "jc-1", SEED_A))
        assert r.status_code == 200, r.text
        taken = await b.post("/cross-cases", headers=STAFF, json={
            "mode": "proxy", "matter": "licence_change", "handling_regions": [JINCHANG], "applicant_id": "u-wuwei-2",
            "applicant_phone": "13912345678", "form": {"company_name": "金昌示范有限公司"}})
        assert taken.status_code == 201, taken.text
        reference = taken.json()["reference"]

        async def backlog() -> dict:
            return (await b.get("/ops/exchanges/backlog", headers=OPERATOR)).json()

        # A is down: attempts fail and the exchange waits, visible to operators with its age
        await eventually(lambda: _at_least(switch, 2), what="two failed attempts")
        waiting = await backlog()
        assert waiting["pending"] == 1 and waiting["by_region"] == {JINCHANG: 1} and waiting["oldest_age_seconds"] > 0

        async with running(create_app(settings(unique, JINCHANG, "金昌市", SEED_A, "jc-1"))) as a:
            await a.post("/regions", headers=OPERATOR,
                         json=region_in(WUWEI, "武威市", "http://region-b.test/exchange", "wu-1", SEED_B))
            switch.inner = a._transport  # A is up

            async def arrived():
                r = await a.get(f"/cross-cases/{reference}", headers=STAFF)
                return r.status_code == 200 and r.json()

            case = await eventually(arrived, what="the forwarded case at region A")
            assert case["origin_region"] == WUWEI and case["status"] == "received"
            assert (await eventually(lambda: _drained(backlog)))["pending"] == 0
            accepted = [x for x in await audit(a) if x["outcome"] == "accepted"]
            assert len(accepted) == 1, accepted  # delivered once


async def _at_least(switch: Switch, n: int) -> bool:
    return switch.calls >= n


async def _drained(backlog) -> dict | None:
    got = await backlog()
    return got if got["pending"] == 0 else None


async def test_the_same_exchange_arriving_twice_at_once_creates_one_case(infra_env, unique):
    keys_b = Keyring([("wu-1", SEED_B)])
    async with running(create_app(settings(unique, JINCHANG, "金昌市", SEED_A, "jc-1"))) as a:
        await a.post("/regions", headers=OPERATOR,
                     json=region_in(WUWEI, "武威市", "http://region-b.test/exchange", "wu-1", SEED_B))
        body = forwarded()
        answers = await asyncio.gather(*(a.post("/exchange", content=body, headers=signed(body, keys_b))
                                         for _ in range(4)))
        assert [r.status_code for r in answers] == [200] * 4, [r.text for r in answers]
        assert sorted(r.json()["outcome"] for r in answers) == ["accepted", "duplicate", "duplicate", "duplicate"]
        assert (await a.get(f"/cross-cases/{reference_of(body)}", headers=STAFF)).status_code == 200
