"""The whole platform as `make run SIMULATE=1` starts it, from a temporary var dir on free
ports, driven through ``python -m devstack up|down``; and the faults to inject into it.

Each Procfile process is found by the platform marker in its environment
(``devstack.stack.tagged_pids``) and its command line. The broker, the database and the
gateways run under ``devstack.outlive``: their *server* is the wrapper's child, and that is
the process a fault hits (SIGKILL of the real JVM / database, not of the wrapper, which
would only SIGTERM it). A killed process makes honcho stop everything, as on a laptop;
:meth:`Platform.restart_after_crash` waits for that and runs ``devstack up`` again on the
same var dir, so Kafka and the database keep their data.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from devstack import catalog, stack
from devstack.servers import free_port, port_open

ROOT = Path(__file__).resolve().parents[2]
SERVERS = ("broker", "db", "gateways")  # run under devstack.outlive: the fault hits the child


def _free_ports(n: int) -> list[int]:
    """``n`` distinct free ports; the broker's controller takes broker + 1, so keep both free."""
    ports: list[int] = []
    for _ in range(200):
        p = free_port()
        if p not in ports and p + 1 not in ports and p - 1 not in ports and not port_open("127.0.0.1", p + 1):
            ports.append(p)
        if len(ports) == n:
            return ports
    raise RuntimeError("no free ports")


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _children(pid: int) -> list[int]:
    out: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                out += [int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
    return out


@dataclass
class Platform:
    var: Path
    simulate: bool = True
    env: dict[str, str] = field(default_factory=dict)
    ups: int = 0

    def __post_init__(self) -> None:
        services = catalog.services(ROOT) + catalog.web(ROOT)
        ports = _free_ports(4 + len(services))
        broker, db, http, smtp, *rest = ports
        self.env = {
            **os.environ,
            "DEVSTACK_ROOT": str(ROOT),
            "DEVSTACK_VAR_DIR": str(self.var),
            "DEVSTACK_BROKER_PORT": str(broker),
            "DEVSTACK_DB_PORT": str(db),
            "GATEWAYS_HTTP_PORT": str(http),
            "GATEWAYS_SMTP_PORT": str(smtp),
            "DEVSTACK_SIMULATE_DEPARTMENTS": "1" if self.simulate else "0",
            # messages go out at once, whatever the hour (the default holds them back at night)
            "NOTIFICATIONS_DEFAULT_QUIET_HOURS": "off",
            "NOTIFICATIONS_DELIVERY_POLL_SECONDS": "0.3",
            "DEVSTACK_READY_TIMEOUT": "120",
        }
        self.env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
        self.env.pop("MONGODB_URI", None)
        for s, port in zip(services, rest, strict=True):
            self.env[f"{s.env_prefix}PORT"] = str(port)
        self.cfg = stack.StackConfig.from_env(self.env)

    # -- addresses ------------------------------------------------------------------------
    @property
    def bootstrap(self) -> str:
        return self.cfg.kafka_bootstrap

    def url(self, service: str) -> str:
        return next(s.base_url for s in self.cfg.services if s.name == service)

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.cfg.gateway_http_port}"

    # -- devstack up / down -----------------------------------------------------------------
    def _devstack(self, command: str, timeout: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "devstack", command], cwd=ROOT, env=self.env, text=True,
                              capture_output=True, timeout=timeout, check=False)

    def up(self) -> float:
        """``make run SIMULATE=1`` (devstack up): seconds until every service is ready."""
        started = time.monotonic()
        r = self._devstack("up", 180)
        if r.returncode != 0:
            raise RuntimeError(f"devstack up failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-5000:]}")
        self.ups += 1
        # the simulators have no readiness endpoint: wait for their log line
        self.wait_log("department simulator ready", timeout=60)
        return time.monotonic() - started

    def down(self) -> None:
        for pid in self.tagged():  # a paused process would never stop
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGCONT)
        self._devstack("down", 90)

    def running(self) -> bool:
        return stack.running_pid(self.cfg) is not None

    def tagged(self) -> list[int]:
        return stack.tagged_pids(self.cfg)

    def log(self) -> str:
        try:
            return self.cfg.log_file.read_text(errors="replace")
        except OSError:
            return ""

    def wait_log(self, marker: str, *, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if marker in self.log():
                return
            time.sleep(0.2)
        raise AssertionError(f"{marker!r} not in the platform log after {timeout}s")

    # -- processes ----------------------------------------------------------------------------
    def leader(self, name: str) -> int:
        """The pid of Procfile process ``name`` (honcho starts each in its own session; the log
        of this run only: `devstack up` rotates it)."""
        needle = {"broker": "devstack.kafka", "db": "-m secantus", "gateways": "devstack.gateways",
                  "departments": "devstack.simulators"}.get(name)
        if needle is None:
            needle = f"{next(s.app for s in self.cfg.services if s.name == name)} "
        for pid in self.tagged():
            cmd = _cmdline(pid) + " "
            with contextlib.suppress(OSError):
                if os.getsid(pid) == pid and needle in cmd and (name not in SERVERS or "devstack.outlive" in cmd):
                    return pid
        raise LookupError(f"no running process {name!r}")

    def pid(self, name: str) -> int:
        """The process a fault on ``name`` hits: a service's own process, or the server itself
        (the JVM, the database) under its ``devstack.outlive`` wrapper."""
        leader = self.leader(name)
        if name not in SERVERS:
            return leader
        kids = _children(leader)
        if not kids:
            raise LookupError(f"{name}: its wrapper {leader} has no child")
        return kids[0]

    def signal(self, name: str, sig: signal.Signals) -> int:
        pid = self.pid(name)
        os.kill(pid, sig)
        return pid

    def wait_stopped(self, timeout: float = 90) -> None:
        """Wait until honcho has stopped everything (after a process died): honcho itself and
        every process of the platform (the servers stop last, after the services)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running() and not self.tagged():
                return
            time.sleep(0.2)
        raise AssertionError(f"honcho still running {timeout}s after the crash")

    def restart_after_crash(self) -> tuple[float, float]:
        """(seconds until honcho stopped, seconds of `devstack up`)."""
        t0 = time.monotonic()
        self.wait_stopped()
        t1 = time.monotonic()
        return t1 - t0, self.up()
