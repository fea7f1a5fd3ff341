"""The ratings pass (好差评): the ratings service alone on the machine, as a process.

1. **Online**: ``n`` completions (registration's ``CaseCompletedV1``) on the bus; the time
   until every invitation is on ``ratings.rating-invited.v1`` (cases opened/s); then each
   case rated once through its link's token (``POST /ratings/by-token``) by ``concurrency``
   clients: ratings/s, latency.
2. **Cards**: ``cards`` paper cards issued in ranges of 50, dropped in the box in batches of
   50 by serial, then counted at the box opening in batches of 100: cards/s of each.
3. **Month close**: a month of ``month`` ratings (90 % online, 10 % paper votes) written
   straight into ratings' database in its own document shape (``ratings.repository``), in
   bulk (not measured); then measured: the box opened, three sign-offs (the third counts the
   month and fixes its result) and the red/black list published (ranked from $group
   aggregations): the seconds from the first sign-off to the list.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pymongo import AsyncMongoClient

from bench.processes import Proc, service, url_of
from bench.procstat import Sampler
from bench.stats import summary_ms
from contracts.events import ratings as rat
from contracts.events import registration as reg
from contracts.topics import topic_for
from devstack.issuer import LocalIssuer
from servicekit.auth import Role
from servicekit.config import ServiceSettings, load

DB = "bench_ratings"
TARGET_RATINGS_PER_S = 200.0
TARGET_MONTH_CLOSE_S = 30.0
WINDOWS, STAFF_PER_WINDOW = 20, 5
CLOSE_MONTH = "2030-01"
LEVELS = ["very_satisfied", "satisfied", "satisfied", "basically_satisfied", "very_satisfied", "satisfied",
          "dissatisfied", "very_satisfied", "satisfied", "very_dissatisfied"]


class Http:
    def __init__(self, base: str, issuer: LocalIssuer, connections: int = 32) -> None:
        aud = load(ServiceSettings).jwt_audience

        def h(sub: str, role: Role, **claims: str) -> dict[str, str]:
            tok = issuer.token(sub=sub, role=role.value, audience=aud, ttl=timedelta(hours=2), **claims)
            return {"Authorization": f"Bearer {tok}"}

        self.op, self.sv, self.hall = h("bench-op", Role.OPERATOR), h("bench-sv", Role.SUPERVISOR), h(
            "bench-hall", Role.WINDOW_STAFF)
        self.bodies = [h(f"bench-{b}", Role.OVERSIGHT, department=b)
                       for b in ("assessment_office", "discipline_inspection", "service_center")]
        self.http = httpx.AsyncClient(base_url=base, timeout=120,
                                      limits=httpx.Limits(max_connections=connections,
                                                          max_keepalive_connections=connections))

    async def ok(self, method: str, path: str, expect: int = 200, **kw: Any) -> Any:
        r = await self.http.request(method, path, **kw)
        if r.status_code != expect:
            raise RuntimeError(f"{method} {path}: {r.status_code} {r.text[:300]}")
        return r.json()


def staff_of(w: int, s: int) -> str:
    return f"bench-w{w:02d}-s{s}"


async def roster(http: Http) -> None:
    for w in range(WINDOWS):
        await http.ok("PUT", f"/windows/bench-w{w:02d}", headers=http.op, json={
            "name": f"综合受理{w + 1}号窗口", "staff": [staff_of(w, s) for s in range(STAFF_PER_WINDOW)],
            "owner_id": f"bench-owner-{w:02d}"})


async def invitations(bootstrap: str, keys: set[bytes], timeout: float) -> dict[bytes, str]:
    """Each case's rating token, read from the invitation topic as notifications would."""
    topic = topic_for(rat.RatingInvitedV1).name
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=20,
                                auto_offset_reset="earliest")
    await consumer.start()
    found: dict[bytes, str] = {}
    try:
        known = consumer.partitions_for_topic(topic)
        for _ in range(50):
            if known:
                break
            await asyncio.sleep(0.1)
            await consumer._client.force_metadata_update()
            known = consumer.partitions_for_topic(topic)
        parts = [TopicPartition(topic, p) for p in sorted(known or [])]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        deadline = time.monotonic() + timeout
        while len(found) < len(keys) and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200, max_records=5000)
            for records in batch.values():
                for r in records:
                    if r.key in keys:
                        event = rat.RatingInvitedV1.from_wire(r.value, dict(r.headers))
                        found[r.key] = event.rating_url.split("token=", 1)[1]
    finally:
        await consumer.stop()
    return found


async def online_pass(http: Http, bootstrap: str, pid: dict[str, int], n: int, concurrency: int) -> dict[str, Any]:
    tag, now = uuid.uuid4().hex[:6].upper(), datetime.now(UTC)
    events = [reg.CaseCompletedV1(source="/one-window/registration", subject=f"RB{tag}{i:06d}",
                                  case_number=f"RB{tag}{i:06d}", applicant_id=f"bench-u{i}", company_name="基准公司",
                                  kind="establishment", unified_social_credit_code="91620102MA00000000",
                                  accepted_at=now, completed_at=now, within_time_limit=True, results={},
                                  staff_id=staff_of(i % WINDOWS, i % STAFF_PER_WINDOW)) for i in range(n)]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    t0 = time.monotonic()
    try:
        futures = []
        for e in events:
            body, headers = e.to_wire()
            futures.append(await producer.send(topic_for(e).name, body, key=e.case_number.encode(),
                                               headers=[(k, v.encode()) for k, v in headers.items()]))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    tokens = await invitations(bootstrap, {e.case_number.encode() for e in events}, timeout=max(60.0, n / 10))
    opened_s = time.monotonic() - t0
    if len(tokens) < n:
        raise RuntimeError(f"only {len(tokens)} of {n} invitations arrived")

    latencies: list[float] = []
    errors: list[str] = []
    queue = list(enumerate(tokens.values()))

    async def client() -> None:
        while queue:
            i, tok = queue.pop()
            t = time.monotonic()
            r = await http.http.post("/ratings/by-token", json={"token": tok, "level": LEVELS[i % len(LEVELS)],
                                                                "indicators": {"overall": 4}})
            latencies.append(time.monotonic() - t)
            if r.status_code != 200:
                errors.append(f"{r.status_code} {r.text[:200]}")

    sampler = Sampler(pid).start()
    t1 = time.monotonic()
    await asyncio.gather(*[client() for _ in range(concurrency)])
    wall = time.monotonic() - t1
    usage = await sampler.stop()
    load = round(os.getloadavg()[0], 1) if hasattr(os, "getloadavg") else None
    return {"cases": n, "open_s": round(opened_s, 2), "opened_per_s": round(n / opened_s, 1),
            "ratings_wall_s": round(wall, 2), "ratings_per_s": round((n - len(errors)) / wall, 1),
            "concurrency": concurrency, "latency": summary_ms(latencies), "errors": len(errors),
            "error_examples": errors[:3], "cpu_s": {k: u.cpu_s for k, u in usage.items()},
            "machine_load_1min": load}


async def cards_pass(http: Http, pid: dict[str, int], cards: int, concurrency: int) -> dict[str, Any]:
    from ratings.domain import make_serial

    day = datetime.now(UTC).strftime("%Y-%m-%d")
    base = 3000000000 + int(time.time()) % 1000 * 100000
    ranges = [(w % WINDOWS, base + k * 50) for k, w in enumerate(range((cards + 49) // 50))]
    serials: list[str] = []

    t0 = time.monotonic()
    for w, first in ranges:
        got = await http.ok("POST", "/cards/issues", 201, headers=http.hall, json={
            "day": day, "window_id": f"bench-w{w:02d}", "staff_id": staff_of(w, 0), "first": make_serial(first),
            "count": 50})
        serials += [c["serial"] for c in got]
    issue_s = time.monotonic() - t0

    batches = [serials[i:i + 50] for i in range(0, len(serials), 50)]
    sampler = Sampler(pid).start()
    t1 = time.monotonic()

    async def dropper() -> None:
        while batches:
            batch = batches.pop()
            await http.ok("POST", "/cards/drops", headers=http.hall, json={"serials": batch, "slot": "good"})

    await asyncio.gather(*[dropper() for _ in range(min(concurrency, 4))])
    drop_s = time.monotonic() - t1
    usage = await sampler.stop()

    month = day[:7]
    await http.ok("PUT", f"/boxes/{month}", headers=http.sv)
    by_window: dict[int, list[str]] = {}
    for (w, _first), k in zip(ranges, range(len(ranges)), strict=True):
        by_window.setdefault(w, []).extend(serials[k * 50:(k + 1) * 50])
    t2 = time.monotonic()
    counted = 0
    for w, ss in by_window.items():
        for i in range(0, len(ss), 100):
            votes = await http.ok("POST", f"/boxes/{month}/votes", headers=http.sv, json={
                "window_id": f"bench-w{w:02d}", "votes": [{"serial": s, "slot": "good"} for s in ss[i:i + 100]]})
            counted += sum(v["counted"] for v in votes)
    count_s = time.monotonic() - t2
    return {"cards": len(serials), "issue_s": round(issue_s, 2), "issued_per_s": round(len(serials) / issue_s, 1),
            "drop_s": round(drop_s, 2), "dropped_per_s": round(len(serials) / drop_s, 1),
            "count_s": round(count_s, 2), "counted": counted, "counted_per_s": round(counted / count_s, 1),
            "cpu_s": {k: u.cpu_s for k, u in usage.items()}}


async def seed_month(mongo_uri: str, total: int) -> dict[str, Any]:
    """``total`` ratings of CLOSE_MONTH in ratings' own document shape, bulk-inserted (not measured)."""
    from ratings.domain import Level, RateableCase
    from ratings.repository import _case_doc, tally_increments

    online, paper = total - total // 10, total // 10
    rated_at = datetime(2030, 1, 15, 2, tzinfo=UTC)
    client: AsyncMongoClient[Any] = AsyncMongoClient(mongo_uri)
    db = client[DB]
    t0 = time.monotonic()
    try:
        docs: list[dict[str, Any]] = []
        rows: list[dict[str, Any]] = []
        for i in range(online):
            w, s = i % WINDOWS, i % STAFF_PER_WINDOW
            case = RateableCase(case_number=f"SEED{i:07d}", source="registration", applicant_id=f"u{i}",
                                matter="establishment", completed_at=rated_at, window_id=f"bench-w{w:02d}",
                                staff_id=staff_of(w, s), department="market_supervision", token_id="t")
            case.rate(level=Level(LEVELS[(i * 7 + w) % len(LEVELS)] if w != 3 else "dissatisfied"), channel="web",
                      indicators={}, comment=None, by="seed", now=rated_at)
            case.version = 1
            docs.append(_case_doc(case))
            rows.append({"source": "online", "month": CLOSE_MONTH, "window_id": case.window_id,
                         "staff_id": case.staff_id, "department": case.department, "matter": case.matter,
                         "level": docs[-1]["level"]})
            if len(docs) == 5000:
                await db["rateables"].insert_many(docs, ordered=False)
                docs = []
        if docs:
            await db["rateables"].insert_many(docs, ordered=False)
        votes = [{"_id": f"{CLOSE_MONTH}:S{i:010d}", "month": CLOSE_MONTH, "serial": f"S{i:010d}",
                  "window_id": f"bench-w{i % WINDOWS:02d}", "staff_id": staff_of(i % WINDOWS, i % STAFF_PER_WINDOW),
                  "level": "satisfied" if i % 9 else "dissatisfied", "counted": True, "flag": None, "at": rated_at}
                 for i in range(paper)]
        for i in range(0, len(votes), 5000):
            await db["votes"].insert_many(votes[i:i + 5000], ordered=False)
        # the running tallies the service keeps as it records (ratings.repository)
        await db["tallies"].bulk_write(tally_increments(rows + [{**v, "source": "paper"} for v in votes]),
                                       ordered=False)
    finally:
        await client.close()
    return {"online": online, "paper": paper, "seed_s": round(time.monotonic() - t0, 1)}


async def close_month(http: Http, pid: dict[str, int]) -> dict[str, Any]:
    await http.ok("PUT", f"/boxes/{CLOSE_MONTH}", headers=http.sv)
    sampler = Sampler(pid).start()
    t0 = time.monotonic()
    steps = {}
    for i, headers in enumerate(http.bodies):
        t = time.monotonic()
        box = await http.ok("POST", f"/boxes/{CLOSE_MONTH}/sign-offs", headers=headers)
        steps[f"sign_off_{i + 1}_s"] = round(time.monotonic() - t, 2)
    t = time.monotonic()
    listed = await http.ok("POST", "/lists", 201, headers=http.sv, json={"month": CLOSE_MONTH, "display_days": 15})
    steps["publish_s"] = round(time.monotonic() - t, 2)
    close_s = time.monotonic() - t0
    usage = await sampler.stop()
    result = (await http.ok("GET", f"/boxes/{CLOSE_MONTH}", headers=http.sv))["result"]
    return {"final": box["final"], "close_s": round(close_s, 2), "steps": steps, "result": result,
            "red": [x["id"] for x in listed["red"]], "black": [x["id"] for x in listed["black"]],
            "cpu_s": {k: u.cpu_s for k, u in usage.items()}}


async def run(env: dict[str, str], tmp: Path, issuer: LocalIssuer, bootstrap: str, mongo_uri: str,
              other_pids: dict[str, int], *, n: int, cards: int, month: int, concurrency: int = 16,
              profile_dir: Path | None = None) -> dict[str, Any]:
    proc: Proc = service("ratings", {**env, "RATINGS_MONGODB_DATABASE": DB}, tmp / "logs", profile_dir)
    await asyncio.to_thread(proc.start)
    http = Http(url_of(proc), issuer, connections=concurrency * 2)
    pid = {"ratings": proc.pid, **other_pids}
    out: dict[str, Any] = {"targets": {}}
    try:
        return await _passes(out, http, bootstrap, pid, mongo_uri, proc, n=n, cards=cards, month=month,
                             concurrency=concurrency)
    except Exception as exc:  # the passes measured so far stay in the results
        out["problem"] = f"{type(exc).__name__}: {exc}"
        return out
    finally:
        await http.http.aclose()
        await asyncio.to_thread(proc.stop)


async def _passes(out: dict[str, Any], http: Http, bootstrap: str, pid: dict[str, int], mongo_uri: str, proc: Proc,
                  *, n: int, cards: int, month: int, concurrency: int) -> dict[str, Any]:
    if True:
        await roster(http)
        print(f"bench: ratings online, {n} cases ...", flush=True)
        out["online"] = await online_pass(http, bootstrap, pid, n, concurrency)
        print(f"bench: ratings cards, {cards} cards ...", flush=True)
        out["cards"] = await cards_pass(http, pid, cards, concurrency)
        print(f"bench: ratings month close, seeding {month} ratings ...", flush=True)
        out["seed"] = await seed_month(mongo_uri, month)
        out["month_close"] = await close_month(http, pid)
        total = out["month_close"]["result"]["total"]
        out["targets"] = {
            "online_ratings_per_s": {"target": TARGET_RATINGS_PER_S, "measured": out["online"]["ratings_per_s"],
                                     "met": out["online"]["ratings_per_s"] >= TARGET_RATINGS_PER_S},
            "cards_dropped_per_s": {"target": TARGET_RATINGS_PER_S, "measured": out["cards"]["dropped_per_s"],
                                    "met": out["cards"]["dropped_per_s"] >= TARGET_RATINGS_PER_S},
            "month_close_s": {"target": TARGET_MONTH_CLOSE_S, "measured": out["month_close"]["close_s"],
                              "ratings": total, "met": out["month_close"]["close_s"] < TARGET_MONTH_CLOSE_S},
        }
        if not proc.alive():
            out["problem"] = f"ratings died: {proc.tail(5)}"
    return out


def markdown(r: dict[str, Any]) -> str:
    if not r or "online" not in r:
        return f"\n**Ratings:** {r.get('reason', 'not run') if r else 'not run'}\n"
    o, c, m = r["online"], r["cards"], r["month_close"]
    lines = ["", "**Ratings (好差评)**", "",
             "| pass | figure | target | met |", "|---|---|---|---|",
             f"| online, {o['cases']} cases ({o['concurrency']} clients) | {o['ratings_per_s']} ratings/s "
             f"(p50 {o['latency'].get('p50_ms')} / p99 {o['latency'].get('p99_ms')} ms); "
             f"cases opened {o['opened_per_s']}/s; machine load {o.get('machine_load_1min')} on "
             f"{os.cpu_count()} cores | ≥ {TARGET_RATINGS_PER_S:g}/s | "
             f"{r['targets']['online_ratings_per_s']['met']} |",
             f"| cards, {c['cards']} | dropped {c['dropped_per_s']}/s, issued {c['issued_per_s']}/s, counted "
             f"{c['counted_per_s']}/s | ≥ {TARGET_RATINGS_PER_S:g}/s | {r['targets']['cards_dropped_per_s']['met']} |",
             f"| month close, {m['result']['total']} ratings | {m['close_s']} s (sign-offs and list: "
             f"{', '.join(f'{k} {v}' for k, v in m['steps'].items())}) | < {TARGET_MONTH_CLOSE_S:g} s | "
             f"{r['targets']['month_close_s']['met']} |", ""]
    return "\n".join(lines)
