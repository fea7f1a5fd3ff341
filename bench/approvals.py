"""Construction approvals: stages completed per second, with instant simulated departments.

Projects (registered, every material uploaded once: setup, not measured) go through their
four stages in order, ``concurrency`` projects at a time; a stage is submitted (declared
with its merged form, then accepted at the window) and is done when its ``StageCompletedV1``
(the permits issued together) is on the bus. Latency: the POST of the declaration to the
completion record's timestamp. CPU per stage of each process, documents written per stage
(the database's oplog)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from bench import dbstats, procstat
from bench.bus import Watcher
from bench.processes import Proc, departments, service, url_of
from bench.stats import summary_ms
from contracts.events.approvals import StageCompletedV1
from contracts.topics import topic_for
from devstack.issuer import LocalIssuer
from servicekit.auth import Role
from servicekit.config import ServiceSettings, load

DB = "bench_approvals"
TARGET_STAGES_PER_S = 5.0
TARGET_P99_MS = 1000.0
STAGES = ("initiation_land_use", "engineering_construction", "construction_permit", "completion_acceptance")
FORMS: dict[str, dict[str, Any]] = {
    "initiation_land_use": {"project_summary": "住宅及配套商业", "construction_scale": "12栋住宅", "total_investment": 48000,
                            "land_area": 25000, "land_use": "二类居住用地"},
    "engineering_construction": {"building_area": 86000, "floors": 26, "designer_name": "甘肃省建筑设计研究院",
                                 "air_defence_area": 3000},
    "construction_permit": {"contractor_name": "甘肃建工集团", "supervisor_name": "兰州建设监理公司", "contract_price": 30000,
                            "planned_start": "2027-03-01"},
    "completion_acceptance": {"completion_date": "2028-09-30"},
}
MATERIALS = ("project_proposal", "site_plan", "land_title", "land_grant_contract", "design_scheme",
             "construction_drawings", "construction_contract", "completion_report", "as_built_drawings")


@dataclass
class StageRun:
    project: str
    stage: str
    case: str = ""
    submitted: float = 0.0
    error: str = ""


@dataclass
class Driver:
    http: httpx.AsyncClient
    applicant: dict[str, str]
    staff: dict[str, str]
    watcher: Watcher
    runs: list[StageRun] = field(default_factory=list)

    async def setup(self, code: str) -> None:
        form = {"project_code": code, "name": f"基准项目{code[-6:]}", "project_type": "housing",
                "builder": {"name": "甘肃建投置业有限公司", "unified_social_credit_code": "91620100MA000CT711"},
                "location": {"division_code": "620102", "detail": "兰州市城关区南滨河路88号"},
                "land_area": "25000.00", "investment": "48000.00"}
        r = await self.http.post("/projects", json={"form": form}, headers=self.applicant)
        r.raise_for_status()
        for name in MATERIALS:
            data = f"%PDF-1.7 {name}\n".encode() * 8
            body = {"name": name, "content_base64": base64.b64encode(data).decode(),
                    "sha256": hashlib.sha256(data).hexdigest()}
            (await self.http.post(f"/projects/{code}/materials", json=body, headers=self.applicant)).raise_for_status()

    async def project(self, code: str, timeout: float) -> None:
        for stage in STAGES:
            run = StageRun(code, stage)
            self.runs.append(run)
            try:
                run.submitted = time.time()
                r = await self.http.post(f"/projects/{code}/stages", json={"stage": stage, "form": FORMS[stage]},
                                         headers=self.applicant)
                if r.status_code != 201:
                    run.error = f"declare {r.status_code}: {r.text[:200]}"
                    return
                run.case = r.json()["case_number"]
                r = await self.http.post(f"/stages/{run.case}/acceptance", headers=self.staff)
                if r.status_code != 200 or r.json()["status"] != "accepted":
                    run.error = f"acceptance {r.status_code}: {r.text[:200]}"
                    return
            except httpx.HTTPError as exc:
                run.error = f"{type(exc).__name__}: {exc}"
                return
            deadline = time.monotonic() + timeout
            while run.case.encode() not in self.watcher.seen:
                if time.monotonic() > deadline:
                    run.error = "not completed in time"
                    return
                await asyncio.sleep(0.005)


async def _measure(driver: Driver, codes: list[str], pids: dict[str, int], mongo: AsyncMongoClient[Any], *,
                   rate: float | None = None, concurrency: int = 8) -> dict[str, Any]:
    """One pass: ``codes``' projects through their four stages, started at ``rate`` stages/s
    (open loop: a project every 4/rate s, its stages one after another) or ``concurrency``
    projects at a time (closed loop)."""
    driver.runs = []
    start_wall = datetime.now(UTC).replace(tzinfo=None)  # the oplog's wall times are naive UTC
    sampler = procstat.Sampler(pids).start()
    t0 = time.monotonic()
    if rate:
        async def later(i: int, code: str) -> None:
            await asyncio.sleep(max(0.0, t0 + i * len(STAGES) / rate - time.monotonic()))
            await driver.project(code, 60)

        await asyncio.gather(*(later(i, c) for i, c in enumerate(codes)))
    else:
        queue = list(codes)

        async def worker() -> None:
            while queue:
                await driver.project(queue.pop(), 60)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.monotonic() - t0
    usage = await sampler.stop()
    end_wall = datetime.now(UTC).replace(tzinfo=None)
    entries = await dbstats.oplog_entries(mongo, start_wall - timedelta(seconds=1))
    seen = driver.watcher.seen
    done = [r for r in driver.runs if not r.error and r.case.encode() in seen]
    latency = [seen[r.case.encode()].produced - r.submitted for r in done]
    span = (max(seen[r.case.encode()].produced for r in done) - min(r.submitted for r in done)) if done else 0
    writes = dbstats.writes_in(entries, DB, start_wall, end_wall + timedelta(seconds=0.3))
    n = len(done) or 1
    return {
        "mode": "rate" if rate else "max", "target_rate": rate, "concurrency": None if rate else concurrency,
        "projects": len(codes), "stages": len(driver.runs), "completed": len(done),
        "errors": [r.error for r in driver.runs if r.error][:5],
        "duplicate_completions": sum(1 for r in done if seen[r.case.encode()].count > 1),
        "wall_s": round(wall, 2), "stages_per_s": round(len(done) / span, 2) if span else None,
        "latency_submission_to_permits": summary_ms(latency),
        "processes": {k: {"cpu_s": u.cpu_s, "cpu_ms_per_stage": round(u.cpu_s * 1000 / n, 1),
                          "peak_rss_mib": round(u.peak_rss / 2**20, 1)} for k, u in usage.items()},
        "db": writes.as_dict() | {"documents_per_stage": round(writes.documents / n, 2),
                                  "commit_points_per_stage": round(writes.commits / n, 2),
                                  "by_collection_op_per_stage": {k: round(v / n, 2)
                                                                 for k, v in sorted(writes.by_collection.items())}},
        "other_cpu_s": sampler.other_cpu_s,
    }


async def run(env: dict[str, str], tmp: Path, issuer: LocalIssuer, bootstrap: str, mongodb_uri: str,
              extra_pids: dict[str, int], *, projects: int, concurrency: int,
              rate: float = TARGET_STAGES_PER_S) -> dict[str, Any]:
    """The target pass (``rate`` stages/s) and the max pass (``concurrency`` projects in flight),
    ``projects`` projects each, on one approvals process and one department simulator."""
    env = {**env, "APPROVALS_MONGODB_DATABASE": DB}
    apr, deps = service("approvals", env, tmp / "logs"), departments(env, tmp / "logs")
    procs: list[Proc] = [apr, deps]
    watcher = await Watcher(bootstrap, topic_for(StageCompletedV1).name).start()
    mongo: AsyncMongoClient[Any] = AsyncMongoClient(mongodb_uri, serverSelectionTimeoutMS=5000)
    audience = load(ServiceSettings).jwt_audience
    tokens = {r: issuer.token(sub=f"bench-{r.value}", role=r.value, audience=audience, ttl=timedelta(hours=2))
              for r in (Role.APPLICANT, Role.WINDOW_STAFF)}
    try:
        await asyncio.gather(*(asyncio.to_thread(p.start) for p in procs))
        http = httpx.AsyncClient(base_url=url_of(apr), timeout=60, limits=httpx.Limits(max_connections=64))
        driver = Driver(http, {"Authorization": f"Bearer {tokens[Role.APPLICANT]}"},
                        {"Authorization": f"Bearer {tokens[Role.WINDOW_STAFF]}"}, watcher)
        codes = [f"2026-620102-47-01-{i:06d}" for i in range(2 * projects + 1)]  # the first one warms up
        sem = asyncio.Semaphore(8)

        async def setup(code: str) -> None:
            async with sem:
                await driver.setup(code)

        await asyncio.gather(*(setup(c) for c in codes))
        await driver.project(codes[0], 60)  # warm-up, not measured
        pids = {"approvals": apr.pid, "departments": deps.pid, **extra_pids}
        passes = {f"target {rate:g} stages/s": await _measure(driver, codes[1:projects + 1], pids, mongo, rate=rate)}
        await asyncio.sleep(1.0)
        passes[f"max ({concurrency} projects in flight)"] = await _measure(driver, codes[projects + 1:], pids, mongo,
                                                                          concurrency=concurrency)
        await http.aclose()
        target = next(iter(passes.values()))
        p99 = target["latency_submission_to_permits"].get("p99_ms")
        best = max(p["stages_per_s"] or 0 for p in passes.values())
        all_done = all(p["completed"] == p["stages"] for p in passes.values())
        out: dict[str, Any] = {"status": "measured", "what": (__doc__ or "").split("\n\n")[0].replace("\n", " "), "passes": passes,
               "targets": {
                   "stages_per_s": {"target": TARGET_STAGES_PER_S, "measured": best,
                                    "at_target_rate": target["stages_per_s"],
                                    "met": bool(all_done and best >= TARGET_STAGES_PER_S)},
                   "p99_ms": {"target": TARGET_P99_MS, "measured": p99, "at_rate": rate,
                              "met": bool(all_done and p99 is not None and p99 < TARGET_P99_MS)}},
               "errors": [e for p in passes.values() for e in p["errors"]][:5]}
        for p in procs:
            if not p.alive():
                out["errors"].append(f"{p.name} died: {p.tail(5)}")
        return out
    finally:
        await watcher.stop()
        await mongo.close()
        await asyncio.to_thread(lambda: [p.stop() for p in procs])


def markdown(a: dict[str, Any]) -> list[str]:
    if a.get("status") != "measured":
        return [f"**Approvals:** not run ({a.get('reason', '')}).", ""]
    lines = ["**Approvals** (projects through their four stages, instant simulated departments; latency: the "
             "stage's declaration → its permits issued)", "",
             "| pass | stages | stages/s | p50 ms | p99 ms | documents/stage | CPU ms/stage | other load (cores) |",
             "|---|---:|---:|---:|---:|---:|---|---:|"]
    for name, p in a["passes"].items():
        lat = p["latency_submission_to_permits"]
        cpu = ", ".join(f"{k} {v['cpu_ms_per_stage']}" for k, v in p["processes"].items())
        other = round(p["other_cpu_s"] / p["wall_s"], 2) if p.get("other_cpu_s") is not None and p["wall_s"] else None
        lines.append(f"| {name} | {p['completed']}/{p['stages']} | {p['stages_per_s']} | {lat.get('p50_ms')} | "
                     f"{lat.get('p99_ms')} | {p['db']['documents_per_stage']} | {cpu} | {other} |")
    t = a["targets"]
    lines += ["", f"**Target:** ≥ {t['stages_per_s']['target']:g} stages/s: "
              f"{'met' if t['stages_per_s']['met'] else 'missed'} (best {t['stages_per_s']['measured']}/s); "
              f"p99 < {t['p99_ms']['target']:g} ms at {t['p99_ms']['at_rate']:g} stages/s: "
              f"{'met' if t['p99_ms']['met'] else 'missed'} ({t['p99_ms']['measured']} ms).", ""]
    return lines
