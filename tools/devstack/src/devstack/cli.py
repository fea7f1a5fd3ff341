"""``python -m devstack up|down|status|logs|topics|token|generate|new-service|images|republish``: the embedded platform from the command line.

    up       start broker, database and all services under honcho in the background; wait
             until every /readyz answers; print the docs URLs (idempotent)
    down     stop everything (SIGTERM, then SIGKILL after a timeout; idempotent)
    status   per-process and per-service readiness (exit 0 only when all are ready)
    logs     the tail of var/log/platform.log (-f to follow, optional process names)
    topics   create the registry's topics on KAFKA_BOOTSTRAP_SERVERS (idempotent)
    token    print a development JWT for a role
    generate write (--check: verify) the files generated from services/services.toml
    new-service  add a service to the list and render its folder from the template
    images   build every service's image with deploy/Dockerfile (--dry-run: print the commands)
    republish  publish a service's retained outbox rows of a time range again (consumers are
             idempotent on ce_id; POST /ops/outbox/republish does the same on a running service)

Settings come from the environment; see ``devstack.stack``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

from devstack import stack
from devstack.servers import TANSU_WARNING, broker_description, broker_kind, port_open


def _rel(cfg: stack.StackConfig, path: Path) -> str:
    try:
        return str(path.relative_to(cfg.root))
    except ValueError:
        return str(path)


def _print_table(cfg: stack.StackConfig, elapsed: float | None, note: str) -> None:
    rows = [(s.name, s.docs_url) for s in cfg.services]
    rows += [(w.name, f"{w.base_url}/  (log in as a development user: config/dev-users.toml; hall screen {w.base_url}/hall)")
             for w in cfg.web]
    rows += [
        ("broker", f"{cfg.kafka_bootstrap}  ({broker_description()}"
                   f"{', data in ' + _rel(cfg, cfg.var_dir / 'kafka') if broker_kind() == 'kafka' else ''})"),
        ("database", f"{cfg.mongodb_uri}  (SecantusDB, data in {_rel(cfg, cfg.db_dir)})"),
        ("log", _rel(cfg, cfg.log_file)),
    ]
    width = max(len(r[0]) for r in rows)
    print()
    print(note + (f" (ready in {elapsed:.1f} s)" if elapsed is not None else ""))
    print()
    print(f"  {'service':<{width}}  API docs")
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    print()
    print("  stop with `make stop`; logs with `make logs`; a token with "
          "`.venv/bin/python -m devstack token --role applicant --sub u-1`")


def _fail_with_log(cfg: stack.StackConfig, reason: str) -> None:
    print(f"\nerror: {reason}", file=sys.stderr)
    lines = stack.tail(cfg.log_file, 40)
    if lines:
        print(f"--- last {len(lines)} lines of {_rel(cfg, cfg.log_file)} ---", file=sys.stderr)
        for line in lines:
            print(line, file=sys.stderr)
        print("---", file=sys.stderr)
    first = next((line for line in stack.tail(cfg.log_file, 5000) if "stopped (rc=" in line), None)
    if first:
        print(f"the first process to stop: {first.split('|', 1)[-1].strip()}", file=sys.stderr)


def cmd_up(args: argparse.Namespace) -> int:
    started = time.monotonic()
    cfg = stack.StackConfig.from_env()
    pid = stack.running_pid(cfg)
    if pid is not None:
        running = cfg.load_running()
        differs = stack.differences(running, cfg)
        if differs:
            print(f"the platform is already running (honcho pid {pid}) with other settings: {'; '.join(differs)}. "
                  "Run `make stop` first, then `make run` again.", file=sys.stderr)
            return 2
        print(f"the platform is already running (honcho pid {pid}); checking readiness ...")
        ok, reason = stack.wait_ready(running, args.timeout, pid=pid)
        if not ok:
            _fail_with_log(running, f"{reason}. Try `make stop && make run`.")
            return 1
        _print_table(running, None, "One Window is already running and ready.")
        return 0

    if stack.read_pid(cfg) is not None:
        print(f"removing a stale pid file ({_rel(cfg, cfg.pid_file)}): its process is gone")
    # Leftovers of a crash (honcho killed hard leaves its children running): stop them.
    stack.stop(cfg, timeout=10.0)
    busy = [(what, port) for what, port in cfg.ports() if port_open(cfg.host, port)]
    if busy:
        for what, port in busy:
            print(f"error: port {port} (needed by {what}) is in use by another process: "
                  f"{stack.port_owner(port)}", file=sys.stderr)
        print("Stop that process, or choose other ports (DEVSTACK_BROKER_PORT, DEVSTACK_DB_PORT, "
              "<SERVICE>_PORT).", file=sys.stderr)
        return 2

    if broker_kind() == "kafka":
        from devstack import kafka

        try:
            kafka.check()
        except kafka.KafkaSetupError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    else:
        print(f"warning: {TANSU_WARNING}", file=sys.stderr)

    stack.write_files(cfg)
    proc = stack.start_honcho(cfg)
    print(f"starting broker, database and {len(cfg.services)} services (honcho pid {proc.pid}; "
          f"log {_rel(cfg, cfg.log_file)}) ...", flush=True)
    try:
        ok, reason = stack.wait_ready(cfg, args.timeout, proc=proc)
    except KeyboardInterrupt:
        print("\ninterrupted: the platform goes on starting in the background; `make stop` stops it")
        return 130
    if not ok:
        _fail_with_log(cfg, reason)
        print("stopping what was started ...", file=sys.stderr)
        stack.stop(cfg, say=lambda m: print(m, file=sys.stderr))
        return 1
    _print_table(cfg, time.monotonic() - started, "One Window is up.")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    cfg = stack.StackConfig.from_env()
    if stack.stop(cfg, timeout=args.timeout):
        print("the platform is stopped")
    else:
        print("the platform is not running")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    base = stack.StackConfig.from_env()
    pid = stack.running_pid(base)
    cfg = base.load_running() if pid is not None else base
    if pid is not None:
        print(f"platform: running (honcho pid {pid})")
    elif stack.tagged_pids(base):
        print(f"platform: crashed: its runner is gone but {len(stack.tagged_pids(base))} of its processes "
              "are left (`make stop` or `make run` cleans them up)")
    elif stack.read_pid(base) is not None:
        print("platform: not running (stale pid file: `make run` cleans it up)")
    else:
        print("platform: not running")
    rows = [("broker", cfg.kafka_bootstrap, "listening" if port_open(cfg.host, cfg.broker_port) else "down"),
            ("db", f"{cfg.host}:{cfg.db_port}", "listening" if port_open(cfg.host, cfg.db_port) else "down")]
    states = stack.readiness((*cfg.services, *cfg.web))
    for s in (*cfg.services, *cfg.web):
        ok, detail = states[s.name]
        rows.append((s.name, s.base_url, "ready" if ok else f"not ready ({detail})"))
    width = max(len(r[0]) for r in rows)
    addr_w = max(len(r[1]) for r in rows)
    for name, addr, state in rows:
        print(f"  {name:<{width}}  {addr:<{addr_w}}  {state}")
    all_ready = all(ok for ok, _ in states.values()) and all(r[2] == "listening" for r in rows[:2])
    return 0 if (pid is not None and all_ready) else 1


def cmd_logs(args: argparse.Namespace) -> int:
    cfg = stack.StackConfig.from_env()
    names = tuple(args.process)

    def wanted(line: str) -> bool:
        if not names:
            return True
        parts = line.split(None, 2)  # "HH:MM:SS name.1 | text"
        return len(parts) > 1 and parts[1].split(".")[0] in names

    if not cfg.log_file.exists():
        print(f"no log yet at {_rel(cfg, cfg.log_file)}: start the platform with `make run`", file=sys.stderr)
        return 1
    lines = [line for line in stack.tail(cfg.log_file, 100_000 if names else args.lines) if wanted(line)]
    for line in lines[-args.lines:]:
        print(line)
    if not args.follow:
        return 0
    try:
        with open(cfg.log_file, errors="replace") as f:
            f.seek(0, os.SEEK_END)
            while True:
                line = f.readline()
                if not line:
                    time.sleep(0.2)
                    continue
                if wanted(line):
                    print(line, end="", flush=True)
    except KeyboardInterrupt:
        return 0


def cmd_topics(args: argparse.Namespace) -> int:
    from devstack.topics import TopicError, ensure_topics_sync

    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # retries are reported by us
    try:
        results = ensure_topics_sync(args.bootstrap, replication_factor=args.replication_factor,
                                     min_insync_replicas=args.min_insync_replicas, timeout=args.timeout)
    except TopicError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    mismatched = 0
    for r in results:
        extra = ""
        if r.actual_partitions is not None and r.actual_partitions != r.partitions:
            mismatched += 1
            extra = f"  WARNING: has {r.actual_partitions} partitions, the registry says {r.partitions}"
        print(f"  {r.status:<8} {r.name} ({r.partitions} partitions){extra}")
    print(f"{len(results)} topics on {args.bootstrap}")
    return 1 if mismatched and args.strict else 0


def cmd_token(args: argparse.Namespace) -> int:
    from devstack.tokens import make_token

    print(make_token(sub=args.sub, role=args.role, department=args.department, agency_id=args.agency_id,
                     name=args.name, ttl=timedelta(hours=args.hours)))
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from devstack import generate

    if args.check:
        stale = generate.stale()
        for name in stale:
            print(f"stale: {name}", file=sys.stderr)
        if stale:
            print("run `make generate` (python -m devstack generate) and commit the result", file=sys.stderr)
        return 1 if stale else 0
    for path in generate.write():
        print(f"wrote {path}")
    return 0


def cmd_new_service(args: argparse.Namespace) -> int:
    from devstack.template import new_service

    try:
        written = new_service(args.name, port=args.port, title=args.title, summary=args.summary,
                              package=args.package, env_prefix=args.env_prefix, force=args.force)
    except (ValueError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    print("next: `make install` (locks and installs the new workspace member), `make openapi`, `make lint`; "
          "see docs/adding-a-service.md")
    return 0


def cmd_images(args: argparse.Namespace) -> int:
    import shlex
    import subprocess

    from devstack import catalog

    root = catalog.root()
    wanted = [s for s in catalog.services(root) if not args.service or s.name in args.service]
    for s in wanted:
        cmd = ["docker", "build", "-f", "deploy/Dockerfile", "--build-arg", f"SERVICE={s.name}",
               "--build-arg", f"PACKAGE={s.package}", "-t", f"{s.image}:{args.tag}", "."]
        print(shlex.join(cmd), flush=True)
        if not args.dry_run and subprocess.run(cmd, cwd=root, check=False).returncode != 0:
            return 1
    return 0


def cmd_republish(args: argparse.Namespace) -> int:
    import asyncio

    from devstack import republish

    base = stack.StackConfig.from_env()
    cfg = base.load_running() if stack.running_pid(base) is not None else base
    try:
        since = republish.parse_time(args.since)
        until = republish.parse_time(args.until) if args.until else None
        print(f"republishing {args.service}'s outbox rows created since {since.isoformat()}"
              f"{f' until {until.isoformat()}' if until else ''}{f' on {args.topic}' if args.topic else ''} ...")
        total = asyncio.run(republish.run(
            args.service, since=since, until=until, topic=args.topic, database=args.database,
            mongodb_uri=args.mongodb_uri or os.environ.get("MONGODB_URI") or cfg.mongodb_uri,
            bootstrap=args.bootstrap or os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or cfg.kafka_bootstrap))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{total} rows published again")
    return 0


def _env_int(name: str, default: int | None) -> int | None:
    value = os.environ.get(name)
    return int(value) if value else default


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("up", help="start the platform in the background and wait until it is ready")
    p.add_argument("--timeout", type=float, default=float(os.environ.get("DEVSTACK_READY_TIMEOUT", 90)),
                   help="seconds to wait for every /readyz (default 90)")
    p.set_defaults(func=cmd_up)

    p = sub.add_parser("down", help="stop the platform")
    p.add_argument("--timeout", type=float, default=20.0, help="seconds before SIGKILL (default 20)")
    p.set_defaults(func=cmd_down)

    p = sub.add_parser("status", help="per-process and per-service readiness")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("logs", help="show the platform log")
    p.add_argument("process", nargs="*", help="only these processes (broker, db, a service name, ...)")
    p.add_argument("-n", "--lines", type=int, default=200)
    p.add_argument("-f", "--follow", action="store_true")
    p.set_defaults(func=cmd_logs)

    p = sub.add_parser("topics", help="create every topic of the registry (idempotent)")
    p.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092"),
                   help="default: $KAFKA_BOOTSTRAP_SERVERS or 127.0.0.1:19092")
    p.add_argument("--replication-factor", type=int, default=_env_int("TOPIC_REPLICATION_FACTOR", 1),
                   help="default: $TOPIC_REPLICATION_FACTOR or 1 (use 3 on Apache Kafka)")
    p.add_argument("--min-insync-replicas", type=int, default=_env_int("TOPIC_MIN_INSYNC_REPLICAS", None),
                   help="topic config min.insync.replicas; default: $TOPIC_MIN_INSYNC_REPLICAS or unset "
                        "(use 2 on Apache Kafka)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the broker")
    p.add_argument("--strict", action="store_true", help="exit 1 if an existing topic has other partitions")
    p.set_defaults(func=cmd_topics)

    p = sub.add_parser("token", help="print a development JWT (ES256, signed by the development issuer in "
                                     "var/issuer/, audience one-window)")
    p.add_argument("--role", required=True, help="applicant, window_staff, reviewer, helper, supervisor, "
                                                  "oversight, partner_agency, operator")
    p.add_argument("--sub", required=True, help="subject (user id)")
    p.add_argument("--department", help="for reviewers")
    p.add_argument("--agency-id", help="for partner agencies")
    p.add_argument("--name", help="display name")
    p.add_argument("--hours", type=float, default=12.0, help="lifetime (default 12, the services' cap)")
    p.set_defaults(func=cmd_token)

    p = sub.add_parser("generate", help="write the files generated from services/services.toml")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 if a generated file is stale")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("new-service", help="add a service: an entry in services/services.toml and its folder")
    p.add_argument("name", help="lowercase letters and digits: folder, package, image, database")
    p.add_argument("--port", type=int, help="local HTTP port (unique)")
    p.add_argument("--title", help="the API's title, after 'One Window — '")
    p.add_argument("--summary", help="one sentence: what it does")
    p.add_argument("--package", help="Python package (default: the name)")
    p.add_argument("--env-prefix", help="settings prefix (default: NAME_)")
    p.add_argument("--force", action="store_true", help="render an existing folder again (overwrites its modules)")
    p.set_defaults(func=cmd_new_service)

    p = sub.add_parser("images", help="docker build every service's image from deploy/Dockerfile")
    p.add_argument("service", nargs="*", help="only these services")
    p.add_argument("--tag", default="latest")
    p.add_argument("--dry-run", action="store_true", help="print the commands only")
    p.set_defaults(func=cmd_images)

    p = sub.add_parser("republish", help="publish a service's retained outbox rows of a time range again")
    p.add_argument("--service", required=True, help="whose outbox (a name of services/services.toml)")
    p.add_argument("--since", required=True, help="from (inclusive): ISO 8601 with an offset, or 15m / 2h / 1d ago")
    p.add_argument("--until", help="to (exclusive), same forms; default: now")
    p.add_argument("--topic", help="only this registry topic")
    p.add_argument("--database", help="the service's database (default: <PREFIX>MONGODB_DATABASE or its name)")
    p.add_argument("--mongodb-uri", help="default: $MONGODB_URI or the embedded platform's")
    p.add_argument("--bootstrap", help="default: $KAFKA_BOOTSTRAP_SERVERS or the embedded platform's")
    p.set_defaults(func=cmd_republish)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))
