"""The embedded platform: the broker, the database and every service under one honcho.

``up`` writes ``var/Procfile`` and ``var/platform.env`` and starts honcho detached (its
own session, output to ``var/log/platform.log``, pid in ``var/run/platform.pid``). The
processes are ``broker`` (Apache Kafka, data in ``var/kafka``; see ``devstack.kafka``),
``db`` (SecantusDB, data in ``var/db``) and one uvicorn
per service, each launched through ``devstack.wait_then`` so it starts only once the
broker and the database listen and the topics exist.

Why one honcho for everything: honcho stops all processes when any one of them exits,
so after a crash ``make run`` starts the whole platform again. (With the opt-in Tansu
broker, ``DEVSTACK_BROKER=tansu``, this is required: it keeps topics and offsets in memory
only, and the services' consumers never recover from its restart.)

Every process of a platform carries ``DEVSTACK_PLATFORM=<var dir>`` in its environment;
that is how ``down`` and ``up`` find leftovers of a crashed run (e.g. honcho killed with
SIGKILL leaves its children running, each in its own session).

Settings (environment): ``DEVSTACK_HOST`` (127.0.0.1), ``DEVSTACK_BROKER_PORT`` (19092),
``DEVSTACK_DB_PORT`` (27018), ``<SERVICE>_PORT`` / ``<SERVICE>_HOST`` (the port of
``services/services.toml``; the service's env prefix), ``DEVSTACK_SERVICES`` (comma list,
default every service of the list), ``DEVSTACK_VAR_DIR`` (``<root>/var``),
``DEVSTACK_ROOT`` (the workspace root, found from the current directory by default),
``KAFKA_SESSION_TIMEOUT_MS`` / ``KAFKA_HEARTBEAT_INTERVAL_MS`` (2000 / 200: fast group joins),
``DEVSTACK_BROKER`` (``kafka``; ``tansu``: memory only), ``DEVSTACK_ISSUER_PORT`` (8099: the
development token issuer, ``devstack.issuer``, keys in ``var/issuer/``; the services trust it
unless ``JWT_ISSUER`` / ``JWT_JWKS_URL`` are set; it logs users of ``config/dev-users.toml`` in
to the console, whose redirect URI it registers: ``CONSOLE_PORT``, 8010, or the ``console``
service's port when there is one).
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from devstack import catalog
from devstack.gateways import GatewayProcess
from devstack.issuer import DEFAULT_PORT as DEFAULT_ISSUER_PORT
from devstack.issuer import LocalIssuer
from devstack.servers import broker_client_env, broker_command, db_command

DEFAULT_BROKER_PORT = 19092
DEFAULT_DB_PORT = 27018
MARKER = "DEVSTACK_PLATFORM"


@dataclass(frozen=True)
class ServiceAddr:
    name: str
    host: str
    port: int
    package: str = ""
    env_prefix: str = ""

    @property
    def app(self) -> str:
        """The ASGI app for uvicorn."""
        return f"{self.package or self.name}.main:app"

    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def docs_url(self) -> str:
        return f"{self.base_url}/docs"


@dataclass(frozen=True)
class StackConfig:
    root: str
    var: str
    host: str
    broker_port: int
    db_port: int
    services: tuple[ServiceAddr, ...]
    consumer_env: dict[str, str] = field(default_factory=dict)
    gateway_http_port: int = 8090
    gateway_smtp_port: int = 8025
    simulate_departments: bool = False  # DEVSTACK_SIMULATE_DEPARTMENTS=1: demo departments answer every step
    issuer_port: int = DEFAULT_ISSUER_PORT
    web: tuple[ServiceAddr, ...] = ()  # the web front ends (services.toml [[web]]), started after the services

    # -- derived paths and addresses -------------------------------------------------
    @property
    def var_dir(self) -> Path:
        return Path(self.var)

    @property
    def log_file(self) -> Path:
        return self.var_dir / "log" / "platform.log"

    @property
    def pid_file(self) -> Path:
        return self.var_dir / "run" / "platform.pid"

    @property
    def state_file(self) -> Path:
        return self.var_dir / "run" / "platform.json"

    @property
    def procfile(self) -> Path:
        return self.var_dir / "Procfile"

    @property
    def env_file(self) -> Path:
        return self.var_dir / "platform.env"

    @property
    def db_dir(self) -> Path:
        return self.var_dir / "db"

    @property
    def issuer_dir(self) -> Path:
        return self.var_dir / "issuer"

    @property
    def issuer(self) -> LocalIssuer:
        """The development token issuer (its keys; ``ensure()`` makes them)."""
        return LocalIssuer(self.issuer_dir, f"http://{self.host}:{self.issuer_port}")

    def login_clients(self) -> list[str]:
        """``--client`` values for the development issuer: each web front end logs its users in
        (OIDC, its redirect URI ``<base_url>/auth/callback``; the client id is its name)."""
        return [f"{w.name}={w.base_url}/auth/callback" for w in self.web]

    @property
    def kafka_bootstrap(self) -> str:
        return f"{self.host}:{self.broker_port}"

    @property
    def mongodb_uri(self) -> str:
        return f"mongodb://{self.host}:{self.db_port}/?directConnection=true"

    @property
    def marker(self) -> str:
        return f"{MARKER}={self.var}"

    def ports(self) -> list[tuple[str, int]]:
        return [("broker", self.broker_port), ("db", self.db_port), ("gateways", self.gateway_http_port),
                ("gateways", self.gateway_smtp_port), ("issuer", self.issuer_port)] + [
                    (s.name, s.port) for s in (*self.services, *self.web)]

    # -- construction -----------------------------------------------------------------
    @classmethod
    def from_env(cls, environ: os._Environ[str] | dict[str, str] | None = None) -> StackConfig:
        env = os.environ if environ is None else environ
        root = Path(env.get("DEVSTACK_ROOT") or find_root()).resolve()
        var = Path(env.get("DEVSTACK_VAR_DIR") or root / "var").resolve()
        host = env.get("DEVSTACK_HOST", "127.0.0.1")
        known = {s.name: s for s in catalog.services(root)}
        names = [n.strip() for n in env.get("DEVSTACK_SERVICES", ",".join(known)).split(",") if n.strip()]
        unknown = set(names) - set(known)
        if unknown:
            raise SystemExit(f"DEVSTACK_SERVICES names services not in {catalog.LIST}: {', '.join(sorted(unknown))}")
        services = tuple(
            ServiceAddr(n, env.get(f"{known[n].env_prefix}HOST", host),
                        int(env.get(f"{known[n].env_prefix}PORT", known[n].port)), known[n].package,
                        known[n].env_prefix)
            for n in names
        )
        consumer_env = {
            "KAFKA_SESSION_TIMEOUT_MS": env.get("KAFKA_SESSION_TIMEOUT_MS", "2000"),
            "KAFKA_HEARTBEAT_INTERVAL_MS": env.get("KAFKA_HEARTBEAT_INTERVAL_MS", "200"),
        }
        return cls(str(root), str(var), host, int(env.get("DEVSTACK_BROKER_PORT", DEFAULT_BROKER_PORT)),
                   int(env.get("DEVSTACK_DB_PORT", DEFAULT_DB_PORT)), services, consumer_env,
                   int(env.get("GATEWAYS_HTTP_PORT", 8090)), int(env.get("GATEWAYS_SMTP_PORT", 8025)),
                   env.get("DEVSTACK_SIMULATE_DEPARTMENTS", "0").lower() in ("1", "true", "yes"),
                   int(env.get("DEVSTACK_ISSUER_PORT", DEFAULT_ISSUER_PORT)),
                   tuple(ServiceAddr(w.name, env.get(f"{w.env_prefix}HOST", host),
                                     int(env.get(f"{w.env_prefix}PORT", w.port)), w.package, w.env_prefix)
                         for w in catalog.web(root) if env.get("DEVSTACK_WEB", "1") != "0"))

    def save_state(self, pid: int) -> None:
        data = asdict(self) | {"pid": pid, "started_at": time.time()}
        self.state_file.write_text(json.dumps(data, indent=2))

    def load_running(self) -> StackConfig:
        """The configuration the running platform was started with (ports may differ from the env now)."""
        try:
            data = json.loads(self.state_file.read_text())
            data.pop("pid", None)
            data.pop("started_at", None)
            data["services"] = tuple(ServiceAddr(**s) for s in data["services"])
            data["web"] = tuple(ServiceAddr(**s) for s in data.get("web", []))
            return StackConfig(**data)
        except (OSError, ValueError, TypeError, KeyError):
            return self


def differences(running: StackConfig, wanted: StackConfig) -> list[str]:
    """What ``wanted`` asks for that the running platform was not started with (a second
    ``make run SIMULATE=1`` must not answer "already running" without the simulators)."""
    out = []
    if running.simulate_departments != wanted.simulate_departments:
        out.append(f"simulated departments {'on' if running.simulate_departments else 'off'}, "
                   f"asked {'on' if wanted.simulate_departments else 'off'}")
    if {s.name for s in running.services} != {s.name for s in wanted.services}:
        out.append(f"services {sorted(s.name for s in running.services)}, asked {sorted(s.name for s in wanted.services)}")
    return out


def find_root(start: Path | None = None) -> Path:
    """The uv workspace root above ``start`` (the current directory by default)."""
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        p = d / "pyproject.toml"
        if p.is_file() and "[tool.uv.workspace]" in p.read_text(errors="replace"):
            return d
    return here


# -- files --------------------------------------------------------------------------------
def process_env(cfg: StackConfig) -> dict[str, str]:
    """Environment of every platform process (also written to ``var/platform.env``)."""
    env = {
        MARKER: cfg.var,
        "KAFKA_BOOTSTRAP_SERVERS": cfg.kafka_bootstrap,
        "MONGODB_URI": cfg.mongodb_uri,
        **broker_client_env(),  # Tansu (opt-in) cannot do producer idempotence
        "PYTHONUNBUFFERED": "1",
        "RUST_LOG": os.environ.get("RUST_LOG", "warn"),
        **cfg.consumer_env,
    }
    for s in cfg.services:
        prefix = s.env_prefix or f"{s.name.upper()}_"
        env[f"{prefix}HOST"] = s.host
        env[f"{prefix}PORT"] = str(s.port)
    for w in cfg.web:
        prefix = w.env_prefix or f"{w.name.upper()}_"
        env[f"{prefix}HOST"] = w.host
        env[f"{prefix}PORT"] = str(w.port)
        env[f"{prefix}PUBLIC_URL"] = w.base_url
        for s in cfg.services:  # a front end reaches each service's API here
            env[f"{prefix}{s.name.upper()}_URL"] = s.base_url
    # the message providers point at the local gateways, on whatever ports they were given
    gateways = GatewayProcess(http_port=cfg.gateway_http_port, smtp_port=cfg.gateway_smtp_port)
    env.update({k: v for k, v in gateways.settings_env().items() if k not in os.environ})
    # a local webhook receiver (python -m devstack.webhook_receiver --port 9000): http and that
    # address only; production has neither (servicekit.outbound)
    for key, value in {"NOTIFICATIONS_WEBHOOK_ALLOW_HTTP": "true",
                       "NOTIFICATIONS_OUTBOUND_ALLOW": '["127.0.0.1:9000", "localhost:9000"]'}.items():
        env.setdefault(key, os.environ.get(key, value))
    # the services trust the development issuer, unless pointed at another one
    if "JWT_ISSUER" not in os.environ and "JWT_JWKS_URL" not in os.environ:
        env.update(cfg.issuer.env())
    return env


def procfile_lines(cfg: StackConfig) -> dict[str, list[str]]:
    py = sys.executable
    # The servers the services use stop only after the services (devstack.outlive), also
    # when the runner stops everything after a crash.
    outlive = [py, "-m", "devstack.outlive", "--"]
    lines = {
        "broker": [*outlive, *broker_command(cfg.host, cfg.broker_port, cfg.var_dir / "kafka")],
        "db": [*outlive, *db_command(cfg.host, cfg.db_port, str(cfg.db_dir), sync_on_commit=True)],
    }
    deps = [cfg.kafka_bootstrap, f"{cfg.host}:{cfg.db_port}"]
    # Local stand-ins for the SMS/push/WeChat gateway and the mail server (the default providers of the service that sends messages).
    lines["gateways"] = [*outlive, py, "-m", "devstack.gateways", "--http-port", str(cfg.gateway_http_port),
                         "--smtp-port", str(cfg.gateway_smtp_port),
                         "--journal", str(cfg.var_dir / "gateways" / "received.jsonl")]
    # The development token issuer: its JWKS for the services, its key for `devstack token`.
    # It also logs people in to the console (OIDC code + PKCE; users in config/dev-users.toml).
    lines["issuer"] = [*outlive, py, "-m", "devstack.issuer", "--host", cfg.host, "--port", str(cfg.issuer_port),
                       "--dir", str(cfg.issuer_dir), "--users", str(Path(cfg.root) / "config" / "dev-users.toml"),
                       *(arg for client in cfg.login_clients() for arg in ("--client", client))]
    if cfg.simulate_departments:
        lines["departments"] = [py, "-m", "devstack.wait_then", "--topics", cfg.kafka_bootstrap, *deps, "--",
                                py, "-m", "devstack.simulators"]
    # ow-serve: uvicorn answering what its parser cannot read (a request line over ~64 KiB) with
    # problem+json too; shorter targets over max_target_bytes get the app's 414 (decision 23).
    for s in cfg.services:
        lines[s.name] = [py, "-m", "devstack.wait_then", "--topics", cfg.kafka_bootstrap, *deps, "--",
                         "ow-serve", s.app, "--host", s.host, "--port", str(s.port)]
    for w in cfg.web:  # front ends need no broker or database: only the services' APIs, later
        lines[w.name] = [py, "-m", "servicekit.server", w.app, "--host", w.host, "--port", str(w.port)]
    return lines


def write_files(cfg: StackConfig, lines: dict[str, list[str]] | None = None) -> None:
    for d in (cfg.var_dir, cfg.log_file.parent, cfg.pid_file.parent, cfg.db_dir):
        d.mkdir(parents=True, exist_ok=True)
    cfg.issuer.ensure()  # the key pair, at first run
    lines = procfile_lines(cfg) if lines is None else lines
    header = "# Written by `python -m devstack up`; regenerated on every start. Run by honcho.\n"
    cfg.procfile.write_text(header + "".join(f"{name}: exec {shlex.join(cmd)}\n" for name, cmd in lines.items()))
    cfg.env_file.write_text("".join(f"{k}={shlex.quote(v)}\n" for k, v in process_env(cfg).items()))


# -- processes ----------------------------------------------------------------------------
def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):  # a zombie is not alive
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rpartition(")")[2].split()[0] != "Z"
    return True


def tagged_pids(cfg: StackConfig) -> list[int]:
    """Every live process started by this platform (found by the marker in its environment)."""
    return platform_pids(cfg.marker)


def service_pids(marker: str) -> list[int]:
    """The platform's service processes (and the simulators): what the servers must outlive."""
    return _procfile_processes(platform_pids(marker))[0]


def platform_pids(marker: str) -> list[int]:
    """Every live process whose environment carries ``marker`` (``DEVSTACK_PLATFORM=<var>``)."""
    needle = marker.encode()
    found = []
    me = os.getpid()
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit() or int(entry.name) == me:
                continue
            try:
                environ = Path(entry.path, "environ").read_bytes()
            except OSError:
                continue
            if needle in environ.split(b"\0") and pid_alive(int(entry.name)):
                found.append(int(entry.name))
    return sorted(found)


def read_pid(cfg: StackConfig) -> int | None:
    try:
        return int(cfg.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def running_pid(cfg: StackConfig) -> int | None:
    """The live honcho of this platform, or None."""
    pid = read_pid(cfg)
    if pid is None or not pid_alive(pid):
        return None
    if Path("/proc").is_dir() and pid not in tagged_pids(cfg):
        return None  # the pid was reused by an unrelated process
    return pid


def port_owner(port: int) -> str:
    """Best effort (Linux): 'pid 123 (cmd ...)' of the process listening on ``port``."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for row in Path(table).read_text().splitlines()[1:]:
                cols = row.split()
                if len(cols) > 9 and cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(f"socket:[{cols[9]}]")
    if not inodes:
        return "unknown process"
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                fds = os.listdir(f"/proc/{entry.name}/fd")
                if any(os.readlink(f"/proc/{entry.name}/fd/{fd}") in inodes for fd in fds):
                    cmd = Path(f"/proc/{entry.name}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                    return f"pid {entry.name} ({cmd.strip()[:100]})"
            except OSError:
                continue
    return "unknown process"


def _signal_all(pids: list[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def _wait_gone(cfg: StackConfig, timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while True:
        left = tagged_pids(cfg)
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.1)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _procfile_processes(pids: list[int]) -> tuple[list[int], list[int]]:
    """(services, others): the Procfile processes among ``pids``. Honcho starts each in its
    own session, so they are the session leaders; a service runs ``devstack.wait_then``."""
    services: list[int] = []
    others: list[int] = []
    for p in pids:
        try:
            if os.getsid(p) != p:
                continue
        except OSError:
            continue
        (services if b"devstack.wait_then" in _cmdline(p) else others).append(p)
    return services, others


def _stop_groups(groups: list[int], timeout: float, say: Callable[[str], object]) -> None:
    """SIGTERM each process group, wait up to ``timeout``, SIGKILL the groups still alive."""
    for g in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(g, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while any(pid_alive(g) for g in groups) and time.monotonic() < deadline:
        time.sleep(0.1)
    stuck = [g for g in groups if pid_alive(g)]
    if stuck:
        say(f"killing {len(stuck)} process(es) still running after {timeout:.0f}s: {' '.join(map(str, stuck))}")
        for g in stuck:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(g, signal.SIGKILL)


def stop(cfg: StackConfig, timeout: float = 20.0, say: Callable[[str], object] = print) -> bool:
    """Stop the platform in order: the services first (while they can still reach the broker
    and the database to commit offsets and close cleanly), then the broker and the database,
    then honcho. Honcho alone would signal all at once, and a service whose broker is already
    gone hangs in its shutdown until SIGKILL. Leftovers of a crashed run are stopped too.

    Returns False when nothing was running. Idempotent.
    """
    pid = running_pid(cfg)
    left = tagged_pids(cfg)
    if pid is None and not left:
        for f in (cfg.pid_file, cfg.state_file):
            f.unlink(missing_ok=True)
        return False
    if pid is not None:
        say(f"stopping the platform (honcho pid {pid}) ...")
        # Paused, honcho cannot react to the first service exit by stopping the broker.
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGSTOP)
    else:
        say(f"stopping {len(left)} leftover process(es) of a crashed run ...")
    try:
        services, others = _procfile_processes([p for p in left if p != pid])
        _stop_groups(services, timeout, say)
        _stop_groups(others, 10.0, say)
    finally:
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
                os.kill(pid, signal.SIGTERM)
    left = _wait_gone(cfg, 10.0)
    if left:
        say(f"terminating {len(left)} remaining process(es): {' '.join(map(str, left))}")
        _signal_all(left, signal.SIGTERM)
        left = _wait_gone(cfg, 5.0)
    if left:
        say(f"killing {len(left)} process(es) that ignored SIGTERM: {' '.join(map(str, left))}")
        _signal_all(left, signal.SIGKILL)
        left = _wait_gone(cfg, 5.0)
    for f in (cfg.pid_file, cfg.state_file):
        f.unlink(missing_ok=True)
    if left:
        say(f"warning: processes still alive after SIGKILL: {left}")
    return True


def start_honcho(cfg: StackConfig) -> subprocess.Popen[bytes]:
    """Start honcho detached in its own session; returns the Popen (pid written to the pid file)."""
    if cfg.log_file.exists():
        cfg.log_file.replace(cfg.log_file.with_suffix(".log.1"))
    env = dict(os.environ)
    env.update(process_env(cfg))
    with open(cfg.log_file, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "honcho", "start", "--no-colour", "-d", cfg.root,
             "-f", str(cfg.procfile), "-e", str(cfg.env_file)],
            cwd=cfg.root, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    cfg.pid_file.write_text(f"{proc.pid}\n")
    cfg.save_state(proc.pid)
    return proc


# -- readiness ----------------------------------------------------------------------------
def readiness(services: tuple[ServiceAddr, ...], timeout: float = 2.0) -> dict[str, tuple[bool, str]]:
    """``{service: (ready, detail)}`` from each service's ``/readyz``."""
    out: dict[str, tuple[bool, str]] = {}
    with httpx.Client(timeout=timeout) as client:
        for s in services:
            try:
                r = client.get(f"{s.base_url}/readyz")
                out[s.name] = (r.status_code == 200, f"{r.status_code} {r.text.strip()[:120]}")
            except httpx.HTTPError as exc:
                out[s.name] = (False, type(exc).__name__)
    return out


def wait_ready(cfg: StackConfig, timeout: float, proc: subprocess.Popen[bytes] | None = None,
               pid: int | None = None) -> tuple[bool, str]:
    """Poll every ``/readyz`` until all answer 200; fail early if the runner exits."""
    deadline = time.monotonic() + timeout
    pending = {s.name for s in (*cfg.services, *cfg.web)}
    while True:
        if proc is not None and proc.poll() is not None:
            return False, f"the process runner exited with code {proc.returncode}"
        if pid is not None and not pid_alive(pid):
            return False, "the process runner exited"
        states = readiness(tuple(s for s in (*cfg.services, *cfg.web) if s.name in pending), timeout=1.0)
        pending -= {n for n, (ok, _) in states.items() if ok}
        if not pending:
            return True, ""
        if time.monotonic() >= deadline:
            details = ", ".join(f"{n}: {states[n][1]}" for n in sorted(pending))
            return False, f"not ready after {timeout:.0f}s: {details}"
        time.sleep(0.3)


def tail(path: Path, lines: int = 40) -> list[str]:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 256 * 1024))
            return f.read().decode(errors="replace").splitlines()[-lines:]
    except OSError:
        return []
