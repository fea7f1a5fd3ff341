"""`make bench`: the machine's limits and the pipelines, measured side by side in one run.

    python bench/run.py -n 200            # full run: bench/results/latest.json + docs/benchmarks.md
    python bench/run.py --smoke           # CI: tiny, every part exercised, bench/results/smoke.json
    python bench/run.py -n 200 --profile registration,db   # cProfile the processes (figures distorted)

Starts its own broker (Apache Kafka; ``DEVSTACK_BROKER=tansu``: Tansu) and SecantusDB (storage folder, ``--sync-on-commit``) in a
temporary directory; runs registration and the department simulator as processes;
measures the raw limits, an idle window, a pass at the target arrival rate and a
max-throughput pass; then accounts database writes (oplog) and bus bytes per case.
Exit status 1 when something did not work (a case not completed, an HTTP error, a
dead-lettered event, a process that died); a missed target is a finding, not a failure.
See bench/README.md."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# `python bench/run.py` puts bench/ first on sys.path, where bench/registration.py would
# shadow the registration package: import from the root, as the package `bench`.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from pymongo import AsyncMongoClient  # noqa: E402

from bench import approvals as apr_bench  # noqa: E402
from bench import crossregion as xr_bench  # noqa: E402
from bench import dbstats, limits, machine, procstat, report  # noqa: E402
from bench import notifications as ntf_bench  # noqa: E402
from bench import ratings as ratings_bench  # noqa: E402
from bench.bus import Watcher, dead_letter_topics, tally, topics_of  # noqa: E402
from bench.processes import Proc, departments, service, url_of  # noqa: E402
from bench.registration import Client, PassResult, hops, run_pass, timings, utcnow  # noqa: E402
from bench.stats import summary_ms  # noqa: E402
from contracts.events.registration import CaseCompletedV1  # noqa: E402
from contracts.topics import topic_for  # noqa: E402
from devstack.issuer import LocalIssuer  # noqa: E402
from devstack.servers import (  # noqa: E402
    Embedded,
    broker_description,
    db_command,
    free_port,
    start_broker,
    start_embedded,
    wait_port,
)
from devstack.topics import ensure_topics  # noqa: E402

RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "benchmarks.md"
REG_DB = "bench_registration"
MIB = 2**20


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-n", "--cases", type=int, default=int(os.environ.get("N", 0) or 0) or None,
                   help="cases per registration pass (default 200; 10 with --smoke; env N)")
    p.add_argument("--smoke", action="store_true", help="tiny sizes for CI; writes bench/results/smoke.json")
    p.add_argument("--rate", type=float, default=report.TARGET_CASES_PER_S, help="arrival rate of the target pass")
    p.add_argument("--concurrency", type=int, default=8, help="concurrent clients of the max-throughput pass")
    p.add_argument("--passes", default="target,max", help="which registration passes (target,max)")
    p.add_argument("--notification-rate", type=float, default=report.TARGET_NOTIFICATIONS_PER_S,
                   help="events/s fed to notifications in its target pass (each event is one applicant message)")
    p.add_argument("--notification-cases", type=int, default=None,
                   help="synthetic cases per notifications pass, 6 measured messages each (default N/2, at least 10)")
    p.add_argument("--skip-notifications", action="store_true", help="do not run the notifications pipeline")
    p.add_argument("--skip-ratings", action="store_true", help="do not run the ratings pass")
    p.add_argument("--rating-cases", type=int, default=None, help="online ratings pass: cases (default 2000; 60 smoke)")
    p.add_argument("--rating-cards", type=int, default=None, help="paper cards pass (default 2000; 100 smoke)")
    p.add_argument("--rating-concurrency", type=int, default=32, help="clients of the online ratings pass")
    p.add_argument("--rating-month", type=int, default=None,
                   help="ratings in the month closed (default 100000; 2000 smoke)")
    p.add_argument("--skip-limits", action="store_true", help="do not measure the raw limits")
    p.add_argument("--skip-approvals", action="store_true", help="do not run the construction approvals pipeline")
    p.add_argument("--approval-projects", type=int, default=None,
                   help="projects of each approvals pass, 4 stages each (default N/8, at least 3)")
    p.add_argument("--approval-concurrency", type=int, default=8, help="projects in flight in the approvals pass")
    p.add_argument("--skip-crossregion", action="store_true", help="do not run the cross-region exchange pass")
    p.add_argument("--profile", default="", help="comma list of registration,departments,notifications,ratings,db to run under cProfile")
    p.add_argument("--out", type=Path, help="JSON results (default bench/results/latest.json, smoke.json, profile.json)")
    p.add_argument("--markdown", type=Path, default=None,
                   help=f"append the Markdown table here (default {DOC.relative_to(ROOT)}, not with --smoke/--profile)")
    p.add_argument("--no-markdown", action="store_true")
    p.add_argument("--curve", default="5,10,20,30,40",
                   help="registration offered rates (cases/s) of the curve passes; '' for none")
    p.add_argument("--notification-curve", default="50,100,200,400",
                   help="notifications offered rates (messages/s) of the curve passes; '' for none")
    p.add_argument("--curve-seconds", type=float, default=8.0, help="how long each curve pass offers its rate")
    p.add_argument("--plot", type=Path, default=ROOT / "docs" / "bench-curve.png",
                   help="the curve's PNG (full runs only)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, database, profiles)")
    args = p.parse_args(argv)
    args.cases = args.cases or (10 if args.smoke else 200)
    args.notification_cases = args.notification_cases or max(10, args.cases // 2)
    args.rating_cases = args.rating_cases or (60 if args.smoke else 2000)
    args.rating_cards = args.rating_cards or (100 if args.smoke else 2000)
    args.rating_month = args.rating_month or (2000 if args.smoke else 100_000)
    args.approval_projects = args.approval_projects or max(3, args.cases // 8)
    args.profile = {x.strip() for x in args.profile.split(",") if x.strip()}
    args.curve = [] if args.smoke else [float(x) for x in args.curve.split(",") if x.strip()]
    args.notification_curve = [] if args.smoke else [float(x) for x in args.notification_curve.split(",") if x.strip()]
    unknown = args.profile - {"registration", "departments", "notifications", "ratings", "db"}
    if unknown:
        p.error(f"--profile knows registration, departments, notifications, ratings, db; not "
                f"{', '.join(sorted(unknown))}")
    mode = "profile" if args.profile else "smoke" if args.smoke else "full"
    args.mode = mode
    args.out = args.out or RESULTS / {"full": "latest.json", "smoke": "smoke.json", "profile": "profile.json"}[mode]
    if args.markdown is None and mode == "full" and not args.no_markdown:
        args.markdown = DOC
    if args.no_markdown:
        args.markdown = None
    return args


# ----------------------------------------------------------------------------------- servers
def start_servers(tmp: Path, profile_db: Path | None) -> Embedded:
    storage, logs = tmp / "db", tmp / "logs"
    storage.mkdir(parents=True, exist_ok=True)
    if profile_db is None:
        return start_embedded(storage=str(storage), log_dir=logs, kafka_dir=tmp / "kafka")
    # same as start_embedded, the database under cProfile
    host, dport = "127.0.0.1", free_port()
    cmd = db_command(host, dport, str(storage))
    logs.mkdir(parents=True, exist_ok=True)
    db = subprocess.Popen([sys.executable, "-m", "cProfile", "-o", str(profile_db), *cmd[1:]],
                          stdout=open(logs / "db.log", "ab"), stderr=subprocess.STDOUT)
    broker = start_broker(host, None, tmp / "kafka", logs / "broker.log")
    wait_port(host, dport, 60, db, "SecantusDB")
    return Embedded(broker, db, f"mongodb://{host}:{dport}/?directConnection=true")


def start_all(procs: list[Proc]) -> None:
    """Start the processes side by side (each waits for its own readiness)."""
    with ThreadPoolExecutor(len(procs)) as pool:
        for f in [pool.submit(p.start) for p in procs]:
            f.result()


# ----------------------------------------------------------------------------------- summaries
def proc_summary(usage: dict[str, procstat.Usage], wall: float, cases: int) -> dict[str, Any]:
    return {n: {"cpu_s": u.cpu_s,
                "core_fraction": round(u.cpu_s / wall, 3) if wall else None,
                "cpu_ms_per_case": round(u.cpu_s * 1000 / cases, 1) if cases else None,
                "peak_rss_mib": round(u.peak_rss / MIB, 1)} for n, u in usage.items()}


def bus_for(keys: set[bytes], tallies: dict[str, dict[bytes, Any]], cases: int) -> dict[str, Any]:
    by_topic, records, size = {}, 0, 0
    for topic, per_key in tallies.items():
        r = sum(per_key[k].records for k in keys if k in per_key)
        b = sum(per_key[k].bytes for k in keys if k in per_key)
        if r:
            by_topic[topic] = {"records": r, "bytes": b, "records_per_case": round(r / cases, 2),
                               "bytes_per_case": round(b / cases, 1)}
        records, size = records + r, size + b
    return {"records": records, "bytes": size, "records_per_case": round(records / cases, 2) if cases else None,
            "bytes_per_case": round(size / cases, 1) if cases else None, "by_topic": by_topic}


def notifications_results(passes: list[tuple[str, dict[str, Any]]], entries: list[dict[str, Any]],
                          lim: dict[str, Any], cores: int, problems: list[str],
                          warnings: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"status": "measured", "what": ntf_bench.__doc__.split("\n\n")[0].replace("\n", " "),
                           "passes": {}}
    for label, p in passes:
        usage, wall, ops = p.pop("usage"), p["wall_s"], p.pop("opcounters")
        start, end = p.pop("start_wall"), p.pop("end_wall")
        msgs = p["messages_received"] or 1
        writes = dbstats.writes_in(entries, ntf_bench.NTF_DB, start, end + timedelta(seconds=0.3))
        item = {**p, "processes_wall_s": wall, "processes": proc_summary(usage, wall, msgs),
                "db": writes.as_dict() | {"documents_per_message": round(writes.documents / msgs, 2),
                                          "commit_points_per_message": round(writes.commits / msgs, 2),
                                          "opcounters": ops,
                                          "write_statements_per_message": round(sum(
                                              ops.get(k, 0) for k in ("insert", "update", "delete")) / msgs, 2),
                                          "queries_per_message": round(ops.get("query", 0) / msgs, 2)}}
        for v in item["processes"].values():  # per message, not per case
            v["cpu_ms_per_message"] = v.pop("cpu_ms_per_case")
        item["ratios"] = report.pass_ratios(item, lim, cores)
        item["binding"] = report.binding(item["ratios"])
        out["passes"][label] = item
        other = p.get("other_cpu_s")
        if other is not None and wall and other / wall > 0.15:
            warnings.append(f"notifications {label}: other processes on the machine used {other / wall:.0%} of a core "
                            "during the pass: its figures are perturbed")
        if p["messages_received"] < p["messages_expected"]:
            problems.append(f"notifications {label}: {p['messages_received']}/{p['messages_expected']} messages")
        if p["webhooks_received"] < p["webhooks_expected"]:
            problems.append(f"notifications {label}: {p['webhooks_received']}/{p['webhooks_expected']} webhooks")
    target = next(iter(out["passes"].values()))
    rate = target.get("messages_per_s_steady") or target.get("messages_per_s")
    best = max((v.get("messages_per_s_steady") or v.get("messages_per_s") or 0) for v in out["passes"].values())
    out["targets"] = {"messages_per_s": {"target": report.TARGET_NOTIFICATIONS_PER_S, "measured": best,
                                         "at_target_feed": rate,
                                         "met": bool(best and best >= report.TARGET_NOTIFICATIONS_PER_S)}}
    return out


def profile_top(path: Path, limit: int = 30) -> str:
    import io
    import pstats

    out = io.StringIO()
    stats = pstats.Stats(str(path), stream=out)
    stats.sort_stats("tottime").print_stats(limit)
    stats.sort_stats("cumulative").print_stats(limit)
    return out.getvalue()


# ----------------------------------------------------------------------------------- the run
async def run(args: argparse.Namespace) -> dict[str, Any]:
    started = datetime.now(UTC)
    t_run = time.monotonic()
    m = machine.describe()
    res: dict[str, Any] = {"schema": 1, "mode": args.mode, "n": args.cases, "started_at": started.isoformat(),
                           "command": " ".join(shlex.quote(a) for a in ["python", "bench/run.py", *sys.argv[1:]]),
                           "machine": m, "procstat_backend": procstat.BACKEND, "profiled": bool(args.profile),
                           "problems": [], "warnings": []}
    problems: list[str] = res["problems"]
    tmp = Path(tempfile.mkdtemp(prefix="ow-bench-"))
    prof_dir = tmp / "profiles"
    prof_dir.mkdir()
    (tmp / "logs").mkdir()
    print(f"bench: {args.mode}, N={args.cases}, work dir {tmp}", flush=True)
    servers = start_servers(tmp, prof_dir / "db.prof" if "db" in args.profile else None)
    res["broker"] = broker_description(servers.broker_kind)
    procs: list[Proc] = []
    mongo: AsyncMongoClient | None = None
    watcher: Watcher | None = None
    client: Client | None = None
    try:
        # -- 1. the machine's limits ----------------------------------------------------------
        sizes = limits.LimitSizes.for_mode(args.smoke)
        if not args.skip_limits:
            print("bench: measuring the broker's and the database's raw limits ...", flush=True)
            res["limits"] = {"sizes": sizes.__dict__,
                             "broker": await limits.kafka_limits(servers.kafka_bootstrap, sizes),
                             "database": await limits.db_limits(servers.mongodb_uri, sizes)}
        else:
            res["limits"] = {}

        await ensure_topics(servers.kafka_bootstrap)
        # the services trust a local token issuer (its JWKS served from this process)
        issuer = LocalIssuer(tmp / "issuer", "http://127.0.0.1").ensure()
        issuer.serve_in_thread()
        env = {**issuer.env(), "KAFKA_BOOTSTRAP_SERVERS": servers.kafka_bootstrap, "MONGODB_URI": servers.mongodb_uri,
               "KAFKA_SESSION_TIMEOUT_MS": "2000", "KAFKA_HEARTBEAT_INTERVAL_MS": "200",
               "REGISTRATION_MONGODB_DATABASE": REG_DB, "KAFKA_CREATE_TOPICS": "false", **servers.client_env}
        mongo = AsyncMongoClient(servers.mongodb_uri, serverSelectionTimeoutMS=5000, appname="bench-accounting")
        pipeline_start = utcnow() - timedelta(seconds=1)

        # -- 2. registration: services as processes -------------------------------------------
        profile = {n: (prof_dir if n in args.profile else None) for n in ("registration", "departments")}
        reg = service("registration", env, tmp / "logs", profile["registration"])
        deps = departments(env, tmp / "logs", profile["departments"])
        procs = [reg, deps]
        t0 = time.monotonic()
        await asyncio.to_thread(start_all, procs)
        res["services_start_s"] = round(time.monotonic() - t0, 2)
        pids = {"registration": reg.pid, "departments": deps.pid, "db": servers.db.pid,
                "broker": servers.broker.pid, "bench": os.getpid()}
        res["settings"] = {"kafka_fetch_max_wait_ms (services)": 50, "watcher_fetch_max_wait_ms": 10,
                           "outbox_poll_seconds": 0.5, "db_sync_on_commit": True, "uvicorn_workers": 1,
                           "rate": args.rate, "max_pass_concurrency": args.concurrency}

        async def ops() -> dict[str, int]:
            return await dbstats.opcounters(mongo)

        watcher = await Watcher(servers.kafka_bootstrap, topic_for(CaseCompletedV1).name).start()
        client = Client(url_of(reg), issuer)

        # -- 3. warm-up (not measured), idle window -------------------------------------------
        warm = await run_pass(client, watcher, pids, label="W", n=3 if args.smoke else 10, concurrency=2)
        if warm.missing or any(c.error for c in warm.cases):
            raise RuntimeError(f"warm-up cases did not complete: {[c.error for c in warm.cases if c.error]} "
                               f"missing {warm.missing}\n{reg.tail()}\n{deps.tail()}")
        await asyncio.sleep(1.0)  # let the relay mark the warm-up rows sent
        idle_s = 2.0 if args.smoke else 5.0
        idle_start = utcnow()
        sampler = procstat.Sampler(pids).start()
        await asyncio.sleep(idle_s)
        idle_usage = await sampler.stop()
        idle_end = utcnow()

        # -- 4. the registration passes -------------------------------------------------------
        passes: list[PassResult] = []
        wanted = [p.strip() for p in args.passes.split(",") if p.strip()]
        for name in wanted:
            if name == "target":
                print(f"bench: registration at {args.rate:g} cases/s, {args.cases} cases ...", flush=True)
                passes.append(await run_pass(client, watcher, pids, label="T", n=args.cases, rate=args.rate,
                                             opcounters=ops))
            elif name == "max":
                print(f"bench: registration at max throughput ({args.concurrency} clients), "
                      f"{args.cases} cases ...", flush=True)
                passes.append(await run_pass(client, watcher, pids, label="M", n=args.cases,
                                             concurrency=args.concurrency, opcounters=ops))
            else:
                raise SystemExit(f"unknown pass {name!r} (target, max)")
            await asyncio.sleep(1.0)
        curve_passes: list[tuple[float, PassResult]] = []
        for rate in args.curve:  # offered rate -> completed/s, p50/p99: where the knee is
            n = max(10, int(rate * args.curve_seconds))
            print(f"bench: registration curve, {rate:g} cases/s offered, {n} cases ...", flush=True)
            curve_passes.append((rate, await run_pass(client, watcher, pids, label=f"C{rate:g}", n=n, rate=rate)))
            await asyncio.sleep(1.0)

        res["peak_rss_mib"] = {n: round((procstat.peak_rss_bytes(pid) or 0) / MIB, 1) for n, pid in pids.items()}
        for proc in procs:
            if not proc.alive():
                problems.append(f"{proc.name} died (exit {proc.proc.returncode if proc.proc else '?'}): {proc.tail(5)}")
        await client.close()
        client = None
        await watcher.stop()  # what it saw stays in watcher.seen
        await asyncio.to_thread(lambda: [proc.stop() for proc in procs])

        # -- 5. notifications, alone on the machine -------------------------------------------
        ntf_passes: list[tuple[str, dict[str, Any]]] = []
        ntf_curve: list[dict[str, Any]] = []
        reason = "skipped (--skip-notifications)" if args.skip_notifications else ntf_bench.availability()
        if reason is None:
            print(f"bench: notifications, {args.notification_cases} synthetic cases x "
                  f"{ntf_bench.MEASURED_PER_CASE} measured messages ...",
                  flush=True)
            stack = ntf_bench.Stack(env, tmp, issuer, prof_dir if "notifications" in args.profile else None)
            # the registration pass's events are on the bus: the service's group starts after them
            await ntf_bench.skip_to_end(servers.kafka_bootstrap, "notifications")
            try:
                await asyncio.to_thread(stack.start)
                npids = {**stack.pids, "db": servers.db.pid, "broker": servers.broker.pid, "bench": os.getpid()}
                for label, tag, rate in ((f"target {args.notification_rate:g} events/s", "T", args.notification_rate),
                                         ("max (as fast as fed)", "M", None)):
                    ntf_passes.append((label, await ntf_bench.run_pass(stack, servers.kafka_bootstrap, npids,
                                                                       tag=tag, cases=args.notification_cases,
                                                                       events_per_s=rate, opcounters=ops)))
                    await asyncio.sleep(1.0)
                for rate in args.notification_curve:
                    cases = max(10, int(rate * args.curve_seconds / ntf_bench.MEASURED_PER_CASE))
                    print(f"bench: notifications curve, {rate:g} messages/s offered, {cases} cases ...", flush=True)
                    point = await ntf_bench.run_pass(stack, servers.kafka_bootstrap, npids, tag=f"C{int(rate)}",
                                                     cases=cases, events_per_s=rate)
                    lat = point["latency_event_to_sms"]
                    ntf_curve.append({"offered": rate, "messages": point["messages_expected"],
                                      "received": point["messages_received"],
                                      "completed_per_s": point.get("messages_per_s_steady") or point.get("messages_per_s"),
                                      "p50_ms": lat.get("p50_ms"), "p99_ms": lat.get("p99_ms")})
                    await asyncio.sleep(1.0)
                res["peak_rss_mib_notifications"] = {
                    n: round((procstat.peak_rss_bytes(pid) or 0) / MIB, 1) for n, pid in stack.pids.items()}
                if not stack.service.alive():
                    problems.append(f"notifications died: {stack.service.tail(5)}")
            finally:
                await asyncio.to_thread(stack.stop)
        else:
            res["notifications"] = {"status": "not_run", "reason": reason}

        # -- 5b. construction approvals, alone on the machine ------------------------------------
        if args.skip_approvals:
            res["approvals"] = {"status": "not_run", "reason": "skipped (--skip-approvals)"}
        else:
            print(f"bench: approvals, 2 passes of {args.approval_projects} projects x 4 stages ...", flush=True)
            res["approvals"] = await apr_bench.run(
                env, tmp, issuer, servers.kafka_bootstrap, servers.mongodb_uri,
                {"db": servers.db.pid, "broker": servers.broker.pid},
                projects=args.approval_projects, concurrency=args.approval_concurrency)
            for label, a in res["approvals"]["passes"].items():
                if a["completed"] < a["stages"] or a["errors"]:
                    problems.append(f"approvals {label}: {a['completed']}/{a['stages']} stages completed; "
                                    f"{a['errors'][:2]}")
                if a["duplicate_completions"]:
                    problems.append(f"approvals {label}: {a['duplicate_completions']} stages completed more than once")
                if a["other_cpu_s"] is not None and a["wall_s"] and a["other_cpu_s"] / a["wall_s"] > 0.15:
                    res["warnings"].append(f"approvals {label}: other processes on the machine used "
                                           f"{a['other_cpu_s'] / a['wall_s']:.0%} of a core during the pass: its "
                                           "figures are perturbed")
        # -- 5b. the cross-region exchange: two local regions -----------------------------------
        if not args.skip_crossregion:
            print("bench: cross-region exchange, two local regions ...", flush=True)
            res["crossregion"] = await xr_bench.run_pass(env, tmp, issuer, n=max(20, args.cases // 2), concurrency=8,
                                                         forwards=5 if args.smoke else 20)
            if res["crossregion"]["forward_through_outbox"]["delivered"] != (5 if args.smoke else 20):
                problems.append(f"crossregion: not every forwarded case arrived: {res['crossregion']}")

        # -- 5c. ratings, alone on the machine ---------------------------------------------------
        if args.skip_ratings:
            res["ratings"] = {"reason": "skipped (--skip-ratings)"}
        else:
            try:
                res["ratings"] = await ratings_bench.run(
                    env, tmp, issuer, servers.kafka_bootstrap, servers.mongodb_uri,
                    {"db": servers.db.pid, "broker": servers.broker.pid}, n=args.rating_cases,
                    cards=args.rating_cards, month=args.rating_month,
                    profile_dir=prof_dir if "ratings" in args.profile else None,
                    concurrency=args.rating_concurrency)
            except Exception as exc:  # the other passes' figures stay
                res["ratings"] = {"reason": f"failed: {type(exc).__name__}: {exc}"}
                problems.append(f"ratings pass failed: {type(exc).__name__}: {exc}")
            if res["ratings"].get("problem"):
                problems.append(res["ratings"]["problem"])

        # -- 6. accounting: oplog and bus -----------------------------------------------------
        print("bench: accounting database writes and bus bytes ...", flush=True)
        cores = int(m["cores"] or 1)
        entries = await dbstats.oplog_entries(mongo, pipeline_start)
        idle_writes = dbstats.writes_in(entries, REG_DB, idle_start, idle_end)
        res["idle"] = {"seconds": idle_s,
                       "processes": proc_summary(idle_usage, idle_s, 0),
                       "db_documents_written_per_s": round(idle_writes.documents / idle_s, 2),
                       "db_by_collection": dict(idle_writes.by_collection)}
        bus_topics = topics_of(["registration", "departments"])
        dlq_topics = dead_letter_topics(["registration", "department-simulator", "notifications", "approvals"])
        tallied = await tally(servers.kafka_bootstrap, bus_topics + dlq_topics)
        tallies = tallied.per_topic
        dead = {t: sum(v.records for v in tallies.get(t, {}).values()) for t in dlq_topics}
        res["dead_lettered"] = dead
        if any(dead.values()):
            problems.append(f"dead-lettered events: {dead}")

        reg_out: dict[str, Any] = {"passes": {}}
        bus_tallies = {t: tallies[t] for t in bus_topics}
        for p in passes:
            name = {"T": f"target {args.rate:g}/s", "M": f"max ({args.concurrency} clients)"}[p.label]
            t = timings(p, watcher)
            t["hops"] = hops(p, watcher, tallied.timeline)
            done = t["completed"] or 1
            writes = dbstats.writes_in(entries, REG_DB, p.start_wall, p.end_wall + timedelta(seconds=0.3))
            item = {"mode": p.mode, "target_rate": p.target_rate, "concurrency": p.concurrency, "timings": t,
                    "processes_wall_s": p.wall_s,
                    "other_cpu_s": p.other_cpu_s,
                    "processes": proc_summary(p.usage, p.wall_s, done),
                    "db": writes.as_dict(per=done) | {"opcounters": p.opcounters,
                                                      "write_statements_per_case": round(sum(
                                                          p.opcounters.get(k, 0) for k in
                                                          ("insert", "update", "delete")) / done, 2),
                                                      "queries_per_case": round(p.opcounters.get("query", 0) / done, 2),
                                                      "commands_per_case": round(
                                                          p.opcounters.get("command", 0) / done, 2)},
                    "bus": bus_for(p.keys(), bus_tallies, done)}
            commits = dbstats.commit_sizes(entries, f"{REG_DB}.processed_events", p.start_wall, p.end_wall)
            gaps = dbstats.commit_gaps(entries, f"{REG_DB}.processed_events", p.start_wall, p.end_wall)
            item["consumer"] = {
                "what": "registration's StepDecidedV1 consumer, from the commits of its processed-event markers "
                        "(oplog): how many answers each transaction took, and the time between transactions",
                "events": sum(commits), "commits": len(commits),
                "events_per_commit": round(sum(commits) / len(commits), 2) if commits else None,
                "gap": summary_ms(gaps),
            }
            item["ratios"] = report.pass_ratios(item, res["limits"], cores)
            item["binding"] = report.binding(item["ratios"])
            reg_out["passes"][name] = item
            if t["error_count"]:
                problems.append(f"{name}: {t['error_count']} HTTP errors, e.g. {t['errors'][:2]}")
            if t["not_completed_count"]:
                problems.append(f"{name}: {t['not_completed_count']} cases not completed")
            if t["duplicate_completions"]:
                problems.append(f"{name}: {t['duplicate_completions']} cases completed more than once")

        for name, item in reg_out["passes"].items():
            other, wall = item.get("other_cpu_s"), item["processes_wall_s"]
            if other is not None and wall and other / wall > 0.15:
                res["warnings"].append(f"registration {name}: other processes on the machine used {other / wall:.0%} "
                                       "of a core during the pass: its figures are perturbed")
        first = next(iter(reg_out["passes"].values()), None)
        if first:
            db, bus = first["db"], first["bus"]
            reg_out["efficiency"] = {
                "from_pass": next(iter(reg_out["passes"])),
                "db_documents_per_case": db.get("documents_per_case"),
                "db_commit_points_per_case": db.get("commit_points_per_case"),
                "db_write_statements_per_case": db.get("write_statements_per_case"),
                "db_queries_per_case": db.get("queries_per_case"),
                "db_documents_by_collection_per_case": db.get("by_collection_op_per_case"),
                "events_per_case": bus.get("records_per_case"),
                "bus_bytes_per_case": bus.get("bytes_per_case"),
                "bus_by_topic_per_case": {k: {"records": v["records_per_case"], "bytes": v["bytes_per_case"]}
                                          for k, v in bus["by_topic"].items()},
            }
        target = next((v for v in reg_out["passes"].values() if v["mode"] == "rate"), None)
        if target and target["target_rate"] == report.TARGET_CASES_PER_S:
            t = target["timings"]
            steady = t.get("completed_per_s_steady") or t.get("completed_per_s")
            all_done = t["completed"] == t["cases"] and not t["error_count"]
            p99 = t["latency_submission_to_completion"]["p99_ms"]
            reg_out["targets"] = {
                "cases_per_s": {"target": report.TARGET_CASES_PER_S, "measured": steady,
                                "met": bool(all_done and steady and steady >= 0.95 * report.TARGET_CASES_PER_S)},
                "p99_ms": {"target": report.TARGET_P99_MS, "measured": p99,
                           "met": bool(all_done and p99 is not None and p99 < report.TARGET_P99_MS)},
            }
        mx = next((v for v in reg_out["passes"].values() if v["mode"] == "max"), None)
        if mx:
            reg_out["max_throughput_cases_per_s"] = mx["timings"].get("completed_per_s")
        res["registration"] = reg_out
        reg_curve = []
        for rate, p in curve_passes:
            t = timings(p, watcher)
            lat = t["latency_submission_to_completion"]
            reg_curve.append({"offered": rate, "cases": t["cases"], "completed": t["completed"],
                              "completed_per_s": t.get("completed_per_s_steady") or t.get("completed_per_s"),
                              "p50_ms": lat.get("p50_ms"), "p99_ms": lat.get("p99_ms")})
            if t["error_count"] or t["not_completed_count"]:
                problems.append(f"curve {rate:g}/s: {t['error_count']} HTTP errors, "
                                f"{t['not_completed_count']} cases not completed")
        res["curve"] = {"registration": reg_curve, "notifications": ntf_curve}

        # -- 7. notifications: accounting --------------------------------------------------------
        if ntf_passes:
            res["notifications"] = notifications_results(ntf_passes, entries, res["limits"], cores, problems,
                                                         res["warnings"])

        return res
    finally:
        if client:
            await client.close()
        if watcher:
            await watcher.stop()
        if mongo:
            await mongo.close()
        for proc in procs:
            proc.stop()
        servers.stop()
        for name in sorted(args.profile):
            path = prof_dir / f"{name}.prof"
            if path.exists():
                text = profile_top(path)
                RESULTS.mkdir(parents=True, exist_ok=True)
                (RESULTS / f"profile-{name}.txt").write_text(text)
                shutil.copy(path, RESULTS / f"profile-{name}.prof")
                print(f"bench: profile of {name}: {RESULTS / f'profile-{name}.txt'}", flush=True)
            else:
                problems.append(f"no profile written for {name}")
        res["finished_at"] = datetime.now(UTC).isoformat()
        res["duration_s"] = round(time.monotonic() - t_run, 1)
        if args.keep:
            print(f"bench: kept {tmp}", flush=True)
            res["work_dir"] = str(tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def print_summary(res: dict[str, Any]) -> None:
    print(report.markdown(res) + ratings_bench.markdown(res.get("ratings") or {}))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        res = asyncio.run(run(args))
    except Exception as exc:
        print(f"bench: FAILED: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        raise
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = args.out.with_suffix(".json.tmp")
    tmp_out.write_text(json.dumps(res, indent=2, ensure_ascii=False, default=str) + "\n")
    tmp_out.replace(args.out)
    print_summary(res)
    if args.mode == "full" and args.plot and (res.get("curve", {}).get("registration") or
                                              res.get("curve", {}).get("notifications")):
        from bench.plot import plot_curve

        machine = res.get("machine", {})
        written = plot_curve(res["curve"], args.plot, title=f"make bench N={args.cases}, {res.get('finished_at', '')[:16]}"
                             f" UTC, {machine.get('cores', '?')} cores, other load on the machine: see docs/benchmarks.md")
        if written:
            print(f"bench: curve plotted in {written.relative_to(ROOT) if written.is_relative_to(ROOT) else written}")
    print(f"bench: results in {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    if args.markdown:
        if not args.markdown.exists():
            args.markdown.write_text(report.HEADER)
        with args.markdown.open("a") as f:
            f.write("\n" + report.markdown(res) + ratings_bench.markdown(res.get("ratings") or {}))
        print(f"bench: table appended to {args.markdown}")
    if res["problems"]:
        print("bench: PROBLEMS: " + "; ".join(res["problems"]), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
