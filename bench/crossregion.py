"""The cross-region exchange (issue 13): signed and verified exchanges per second, and the round
trip between two local regions.

- sign/verify: RFC 9421 with Ed25519 (``crossregion.signatures``), in this process, one core:
  a forwarded case's document signed (Content-Digest included), then verified, N times.
- two regions as processes, each its own database and keys (region B's topics and groups
  prefixed): the bench, holding B's key, POSTs signed forwarded cases to A's ``/exchange``; the
  round trip is request → A verified it, checked the nonce and exchange id, stored the case and its
  events in one transaction → answer. Sequential (latency) and with concurrent clients (rate).
- forward latency through B's outbox: B's window takes a case (``POST /cross-cases``); the
  exchange is queued with the case, signed and delivered by B's worker; measured from the case's
  ``opened_at`` at B to its ``opened_at`` at A (same machine clock)."""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.processes import Proc
from bench.stats import summary_ms
from devstack.issuer import LocalIssuer
from devstack.servers import free_port
from servicekit.auth import Role
from servicekit.config import ServiceSettings, load

JINCHANG, WUWEI = "620300", "620600"


def _document(n: int) -> bytes:
    ref = f"{WUWEI}-20260302-{uuid.uuid4().hex[:8].upper()}"
    return json.dumps({"exchange_id": f"{WUWEI}.{uuid.uuid4().hex}", "sender": WUWEI,
                       "sent_at": datetime.now(UTC).isoformat(),
                       "body": {"kind": "case.forwarded", "reference": ref, "matter": "licence_change",
                                "mode": "proxy", "applicant_id": f"u-bench-{n}", "applicant_phone": "13912345678",
                                "form": {"unified_social_credit_code": "91620300MA0000077X",
                                         "company_name": "金昌一窗示范科技有限公司",
                                         "business_scope": ["软件开发"],
                                         "materials": ["change_application", "change_resolution"]}}},
                      ensure_ascii=False).encode()


def sign_verify(n: int) -> dict[str, Any]:
    from crossregion.signatures import Keyring, Verifier, new_seed, private_key, public_key_text

    seed = new_seed()
    keys = Keyring([("wu-1", seed)])
    public = public_key_text(private_key(seed))
    verifier = Verifier(max_age=timedelta(minutes=5), skew=timedelta(seconds=30))
    docs = [_document(i) for i in range(n)]
    t0 = time.perf_counter()
    signed = [keys.sign(url="http://a.test/exchange", body=d, now=datetime.now(UTC), expires_in=timedelta(minutes=5))
              for d in docs]
    t1 = time.perf_counter()
    for d, h in zip(docs, signed, strict=True):
        verifier.verify(method="POST", url="http://a.test/exchange", headers=h, body=d, public=lambda _k: public)
    t2 = time.perf_counter()
    return {"exchanges": n, "bytes_per_exchange": round(sum(map(len, docs)) / n),
            "signed_per_s": round(n / (t1 - t0)), "verified_per_s": round(n / (t2 - t1)),
            "signed_and_verified_per_s": round(n / (t2 - t0))}


def _region(name: str, code: str, seed: str, env: dict[str, str], log_dir: Path, **extra: str) -> Proc:
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "crossregion.main:app", "--host", "127.0.0.1", "--port", str(port),
            "--log-level", "warning", "--no-access-log"]
    return Proc(name, argv, {**env, "CROSSREGION_PORT": str(port), "CROSSREGION_REGION_CODE": code,
                             "CROSSREGION_MONGODB_DATABASE": f"bench_{name}",
                             "CROSSREGION_SIGNING_KEYS": json.dumps([f"{code}-k1:{seed}"]),
                             "CROSSREGION_EXCHANGE_ALLOW_HTTP": "true", "CROSSREGION_OUTBOUND_ALLOW": '["127.0.0.1"]',
                             "CROSSREGION_DELIVERY_POLL_SECONDS": "0.2", **extra},
                log_dir / f"{name}.log", ready_url=f"http://127.0.0.1:{port}/readyz")


def _partner(code: str, url: str, seed: str) -> dict[str, Any]:
    from crossregion.signatures import private_key, public_key_text

    return {"division_code": code, "name": code, "endpoint": f"{url}/exchange", "key_id": f"{code}-k1",
            "public_key": public_key_text(private_key(seed)), "matters": ["licence_change"], "modes": ["proxy"]}


async def run_pass(env: dict[str, str], tmp: Path, issuer: LocalIssuer, *, n: int, concurrency: int,
                   forwards: int) -> dict[str, Any]:
    from crossregion.signatures import Keyring, new_seed

    audience = load(ServiceSettings).jwt_audience
    operator = {"Authorization": "Bearer " + issuer.token(sub="bench-op", role=Role.OPERATOR.value, audience=audience,
                                                          ttl=timedelta(hours=2))}
    staff = {"Authorization": "Bearer " + issuer.token(sub="bench-w", role=Role.WINDOW_STAFF.value, audience=audience,
                                                       ttl=timedelta(hours=2))}
    seed_a, seed_b = new_seed(), new_seed()
    a = _region("crossregion-a", JINCHANG, seed_a, env, tmp / "logs")
    b = _region("crossregion-b", WUWEI, seed_b, env, tmp / "logs", KAFKA_TOPIC_PREFIX="benchb.")
    out: dict[str, Any] = {"sign_verify": sign_verify(max(n * 4, 200))}
    try:
        await asyncio.to_thread(lambda: (a.start(), b.start()))
        url_a, url_b = a.ready_url.rsplit("/", 1)[0], b.ready_url.rsplit("/", 1)[0]  # type: ignore[union-attr]
        async with httpx.AsyncClient(timeout=30) as http:
            for url, code, seed, target in ((url_a, WUWEI, seed_b, url_b), (url_b, JINCHANG, seed_a, url_a)):
                r = await http.post(f"{url}/regions", headers=operator, json=_partner(code, target, seed))
                if r.status_code != 200:
                    raise RuntimeError(f"POST /regions {r.status_code}: {r.text[:300]}")
            keys = Keyring([(f"{WUWEI}-k1", seed_b)])

            async def one() -> float:
                body = _document(0)
                headers = keys.sign(url=f"{url_a}/exchange", body=body, now=datetime.now(UTC),
                                    expires_in=timedelta(minutes=5))
                t0 = time.perf_counter()
                r = await http.post(f"{url_a}/exchange", content=body, headers=headers)
                if r.status_code != 200:
                    raise RuntimeError(f"POST /exchange {r.status_code}: {r.text[:300]}")
                return time.perf_counter() - t0

            for _ in range(5):  # warm-up
                await one()
            seq = [await one() for _ in range(n)]
            gate = asyncio.Semaphore(concurrency)

            async def gated() -> float:
                async with gate:
                    return await one()

            t0 = time.perf_counter()
            conc = await asyncio.gather(*(gated() for _ in range(n)))
            wall = time.perf_counter() - t0
            out["round_trip_sequential"] = {"exchanges": n, **summary_ms(seq),
                                            "exchanges_per_s": round(n / sum(seq), 1)}
            out["round_trip_concurrent"] = {"exchanges": n, "clients": concurrency, **summary_ms(list(conc)),
                                            "exchanges_per_s": round(n / wall, 1)}

            # B's window → B's outbox and worker → A
            refs: list[tuple[str, datetime]] = []
            for i in range(forwards):
                r = await http.post(f"{url_b}/cross-cases", headers=staff, json={
                    "mode": "proxy", "matter": "licence_change", "handling_regions": [JINCHANG],
                    "applicant_id": f"u-fwd-{i}", "form": {"company_name": "金昌一窗示范科技有限公司"}})
                if r.status_code != 201:
                    raise RuntimeError(f"POST /cross-cases {r.status_code}: {r.text[:300]}")
                refs.append((r.json()["reference"], datetime.fromisoformat(r.json()["opened_at"])))
                await asyncio.sleep(0.05)
            latencies: list[float] = []
            deadline = time.monotonic() + 60
            pending = dict(refs)
            while pending and time.monotonic() < deadline:
                for ref, opened in list(pending.items()):
                    r = await http.get(f"{url_a}/cross-cases/{ref}", headers=staff)
                    if r.status_code == 200:
                        latencies.append((datetime.fromisoformat(r.json()["opened_at"]) - opened).total_seconds())
                        del pending[ref]
                await asyncio.sleep(0.05)
            out["forward_through_outbox"] = {"cases": forwards, "delivered": len(latencies), **summary_ms(latencies)}
            backlog = (await http.get(f"{url_b}/ops/exchanges/backlog", headers=operator)).json()
            out["backlog_after"] = backlog["pending"]
    finally:
        await asyncio.to_thread(lambda: (a.stop(), b.stop()))
    return out
