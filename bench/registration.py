"""The registration pipeline: company start-up cases over HTTP, completed by the
simulated departments, observed on the bus.

Each case: ``POST /cases`` (the one form) then ``POST /cases/{n}/window-check`` by window
staff, who accept at once. The departments (``devstack.simulators``) approve every step
as soon as it is requested. The case is complete when its ``CaseCompletedV1`` appears on
``registration.case-completed.v1``; a plain consumer (:class:`bench.bus.Watcher`)
matches the key, so completion is seen the way any other service would see it, and no
HTTP polling loads the service under test.

Latency is measured from just before ``POST /cases`` (submission) to the moment the
watcher receives the completion (observed; includes up to the watcher's fetch wait),
and also to the record's own timestamp (when the outbox relay produced it)."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from bench.bus import Watcher
from bench.procstat import Sampler, Usage
from bench.stats import summary_ms
from devstack.issuer import LocalIssuer
from servicekit.auth import Role
from servicekit.config import ServiceSettings, load
from tests.support.forms import company_form

STALL_TIMEOUT_S = 45.0  # give up when no case completed for this long


def utcnow() -> datetime:
    """Naive UTC, comparable with the oplog's ``wall``."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class CaseRun:
    i: int
    body: bytes
    scheduled: float = 0.0  # monotonic offset of the intended arrival (open loop)
    lag: float = 0.0  # how late the client sent it
    submitted: float = 0.0  # wall clock, just before POST /cases
    submit_done: float = 0.0
    accepted: float = 0.0  # wall clock, window-check answered "accepted"
    number: str | None = None
    error: str | None = None


@dataclass
class PassResult:
    label: str
    mode: str  # "rate" | "max"
    n: int
    target_rate: float | None
    concurrency: int | None
    cases: list[CaseRun]
    start_wall: datetime
    end_wall: datetime
    wall_s: float
    usage: dict[str, Usage]
    other_cpu_s: float | None = None  # the machine's busy CPU outside the measured processes
    opcounters: dict[str, int] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    def keys(self) -> set[bytes]:
        return {c.number.encode() for c in self.cases if c.number}


TOKEN_TTL = timedelta(hours=12)  # the services' lifetime cap


class Client:
    """The applicants and window staff, over HTTP."""

    def __init__(self, base_url: str, issuer: LocalIssuer, max_connections: int = 64) -> None:
        audience = load(ServiceSettings).jwt_audience
        applicant = issuer.token(sub="bench-applicant", role=Role.APPLICANT.value, audience=audience, ttl=TOKEN_TTL)
        staff = issuer.token(sub="bench-window", role=Role.WINDOW_STAFF.value, audience=audience, ttl=TOKEN_TTL)
        self.applicant = {"Authorization": f"Bearer {applicant}", "Content-Type": "application/json"}
        self.staff = {"Authorization": f"Bearer {staff}", "Content-Type": "application/json"}
        self.http = httpx.AsyncClient(base_url=base_url, timeout=60,
                                      limits=httpx.Limits(max_connections=max_connections,
                                                          max_keepalive_connections=max_connections))

    @staticmethod
    def bodies(tag: str, n: int) -> list[bytes]:
        """Prepared before the clock runs: unique company names, valid ID numbers."""
        return [json.dumps({"form": company_form(f"兰州基准{tag}{i:05d}科技有限公司"),
                            "applicant_phone": "13912345678"}, ensure_ascii=False).encode() for i in range(n)]

    async def one(self, case: CaseRun) -> None:
        try:
            case.submitted = time.time()
            r = await self.http.post("/cases", content=case.body, headers=self.applicant)
            if r.status_code != 201:
                case.error = f"POST /cases {r.status_code}: {r.text[:300]}"
                return
            case.number = r.json()["case_number"]
            case.submit_done = time.time()
            r = await self.http.post(f"/cases/{case.number}/window-check", content=b"{}", headers=self.staff)
            if r.status_code != 200 or r.json().get("status") != "accepted":
                case.error = f"window-check {r.status_code}: {r.text[:300]}"
                return
            case.accepted = time.time()
        except httpx.HTTPError as exc:
            case.error = f"{type(exc).__name__}: {exc}"

    async def close(self) -> None:
        await self.http.aclose()


async def _open_loop(client: Client, cases: list[CaseRun], rate: float) -> None:
    """Arrivals on a fixed schedule, whatever the answers take (no coordinated omission)."""
    loop = asyncio.get_running_loop()
    t0 = loop.time() + 0.05

    async def arrive(c: CaseRun) -> None:
        c.scheduled = c.i / rate
        await asyncio.sleep(max(0.0, t0 + c.scheduled - loop.time()))
        c.lag = max(0.0, loop.time() - (t0 + c.scheduled))
        await client.one(c)

    await asyncio.gather(*(arrive(c) for c in cases))


async def _closed_loop(client: Client, cases: list[CaseRun], concurrency: int) -> None:
    """``concurrency`` clients, each submitting and accepting its next case at once."""
    queue: asyncio.Queue[CaseRun] = asyncio.Queue()
    for c in cases:
        queue.put_nowait(c)

    async def worker() -> None:
        while not queue.empty():
            await client.one(queue.get_nowait())

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def wait_completions(watcher: Watcher, keys: set[bytes]) -> set[bytes]:
    """Wait while cases keep completing; give up after STALL_TIMEOUT_S without progress."""
    missing, progress_at = set(keys), time.monotonic()
    while missing:
        still = await watcher.wait_for(missing, timeout=2.0)
        if len(still) < len(missing):
            progress_at = time.monotonic()
        missing = still
        if missing and time.monotonic() - progress_at > STALL_TIMEOUT_S:
            break
    return missing


async def run_pass(client: Client, watcher: Watcher, pids: dict[str, int], *, label: str, n: int,
                   rate: float | None = None, concurrency: int | None = None,
                   opcounters: Any = None) -> PassResult:
    cases = [CaseRun(i, b) for i, b in enumerate(Client.bodies(label, n))]
    ops0 = await opcounters() if opcounters else {}
    start_wall, t0 = utcnow(), time.monotonic()
    sampler = Sampler(pids).start()
    if rate is not None:
        await _open_loop(client, cases, rate)
    else:
        await _closed_loop(client, cases, concurrency or 8)
    keys = {c.number.encode() for c in cases if c.number}
    missing = await wait_completions(watcher, keys)
    usage = await sampler.stop()
    wall_s, end_wall = time.monotonic() - t0, utcnow()
    ops1 = await opcounters() if opcounters else {}
    return PassResult(label=label, mode="rate" if rate is not None else "max", n=n, target_rate=rate,
                      concurrency=None if rate is not None else (concurrency or 8), cases=cases,
                      start_wall=start_wall, end_wall=end_wall, wall_s=round(wall_s, 3), usage=usage,
                      other_cpu_s=sampler.other_cpu_s,
                      opcounters={k: ops1.get(k, 0) - ops0.get(k, 0) for k in ops1},
                      missing=sorted(k.decode() for k in missing))


def timings(p: PassResult, watcher: Watcher) -> dict[str, Any]:
    """Throughput and latency of one pass."""
    done = [c for c in p.cases if c.number and c.number.encode() in watcher.seen]
    seen = {c.number: watcher.seen[c.number.encode()] for c in done}
    e2e = [seen[c.number].observed - c.submitted for c in done]
    e2e_produced = [seen[c.number].produced - c.submitted for c in done]
    after_accept = [seen[c.number].observed - c.accepted for c in done if c.accepted]
    submit_http = [c.submit_done - c.submitted for c in p.cases if c.submit_done]
    accept_http = [c.accepted - c.submit_done for c in p.cases if c.accepted]
    out: dict[str, Any] = {
        "cases": p.n,
        "completed": len(done),
        "errors": [c.error for c in p.cases if c.error][:10],
        "error_count": sum(1 for c in p.cases if c.error),
        "not_completed": p.missing[:10],
        "not_completed_count": len(p.missing),
        "duplicate_completions": sum(1 for s in seen.values() if s.count > 1),
        "latency_submission_to_completion": summary_ms(e2e),
        "latency_submission_to_completion_produced": summary_ms(e2e_produced),
        "latency_acceptance_to_completion": summary_ms(after_accept),
        "http_submit": summary_ms(submit_http),
        "http_window_check": summary_ms(accept_http),
    }
    if done:
        first = min(c.submitted for c in p.cases if c.submitted)
        ends = sorted(seen[c.number].observed for c in done)
        last_submit = max(c.submitted for c in p.cases if c.submitted)
        out["submission_span_s"] = round(last_submit - first, 3)
        out["offered_rate_per_s"] = round((len(p.cases) - 1) / (last_submit - first), 2) if last_submit > first else None
        makespan = ends[-1] - first
        out["makespan_s"] = round(makespan, 3)
        out["completed_per_s"] = round(len(done) / makespan, 2) if makespan > 0 else None
        # steady state: completions between the 10th and the 90th percentile of completion times
        lo, hi = int(len(ends) * 0.1), int(len(ends) * 0.9) - 1
        if hi > lo and ends[hi] > ends[lo]:
            out["completed_per_s_steady"] = round((hi - lo) / (ends[hi] - ends[lo]), 2)
        # does latency grow along the pass (a backlog building)?
        third = max(1, len(done) // 3)
        by_submit = sorted(done, key=lambda c: c.submitted)
        out["p50_ms_first_third"] = summary_ms([seen[c.number].observed - c.submitted for c in by_submit[:third]])["p50_ms"]
        out["p50_ms_last_third"] = summary_ms([seen[c.number].observed - c.submitted for c in by_submit[-third:]])["p50_ms"]
        series = [0] * (int(ends[-1] - first) + 1)
        for e in ends:
            series[int(e - first)] += 1
        out["completions_each_second"] = series  # from the first submission: shows stalls and backlog drain
        lags = [c.lag for c in p.cases]
        out["client_send_lag_ms_max"] = round(max(lags) * 1000, 1)
    return out


HOPS = (
    ("POST /cases answered (HTTP)", "submitted", "submit_done"),
    ("window-check answered (HTTP)", "submit_done", "accepted"),
    ("accepted → licence step requested on the bus (outbox relay)", "accepted", "req_licence"),
    ("licence requested → department answered (simulator)", "req_licence", "dec_licence"),
    ("licence answered → 3 steps requested (registration consumer, transaction, relay)", "dec_licence", "req_three"),
    ("3 steps requested → last department answer (simulator)", "req_three", "dec_three"),
    ("last answer → CaseCompletedV1 produced (registration consumer, transaction, relay)", "dec_three", "completed"),
    ("CaseCompletedV1 produced → observed (bench watcher)", "completed", "observed"),
)


def hops(p: PassResult, watcher: Watcher, timeline: dict[bytes, list[tuple[float, str, str]]]) -> dict[str, Any]:
    """Where a case's time goes, from the records' own timestamps (set by each producer)."""
    series: dict[str, list[float]] = {name: [] for name, _, _ in HOPS}
    for c in p.cases:
        if not c.number or c.number.encode() not in watcher.seen:
            continue
        t: dict[str, float] = {"submitted": c.submitted, "submit_done": c.submit_done, "accepted": c.accepted,
                               "observed": watcher.seen[c.number.encode()].observed}
        three_req, three_dec = [], []
        for ts, topic, step in timeline.get(c.number.encode(), []):
            if topic.endswith("step-requested.v1"):
                if step == "licence":
                    t.setdefault("req_licence", ts)
                else:
                    three_req.append(ts)
            elif topic.endswith("step-decided.v1"):
                if step == "licence":
                    t.setdefault("dec_licence", ts)
                else:
                    three_dec.append(ts)
            elif topic.endswith("case-completed.v1"):
                t.setdefault("completed", ts)
        if three_req:
            t["req_three"] = max(three_req)
        if three_dec:
            t["dec_three"] = max(three_dec)
        for name, a, b in HOPS:
            if a in t and b in t and t[a] and t[b]:
                series[name].append(t[b] - t[a])
    return {name: {k: v for k, v in summary_ms(vals).items() if k in ("p50_ms", "p95_ms", "max_ms")}
            for name, vals in series.items()}
