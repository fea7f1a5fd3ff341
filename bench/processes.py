"""The processes a bench run measures: the services (uvicorn) and the department
simulator, each its own OS process, optionally under cProfile."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from devstack.servers import free_port

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Proc:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    ready_url: str | None = None  # GET answering 200 means ready
    ready_marker: str | None = None  # or: this text appears in the log
    profile_path: Path | None = None
    proc: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 90) -> Proc:
        argv = list(self.argv)
        if self.profile_path is not None:  # python -m X ...  ->  python -m cProfile -o P -m X ...
            assert argv[0] == sys.executable and argv[1] == "-m", argv
            argv = [sys.executable, "-m", "cProfile", "-o", str(self.profile_path), *argv[1:]]
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(argv, env={**os.environ, **self.env}, stdout=log, stderr=subprocess.STDOUT,
                                     cwd=ROOT)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited {self.proc.returncode} while starting:\n{self.tail()}")
            if self._ready():
                return self
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready within {timeout}s:\n{self.tail()}")

    def _ready(self) -> bool:
        if self.ready_url:
            try:
                return httpx.get(self.ready_url, timeout=1).status_code == 200
            except httpx.HTTPError:
                return False
        return bool(self.ready_marker and self.ready_marker in self.tail(200))

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 30) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            # uvicorn re-raises SIGTERM after its shutdown, which kills the process before
            # cProfile writes; SIGINT re-raised becomes KeyboardInterrupt, and cProfile writes.
            self.proc.send_signal(signal.SIGINT if self.profile_path else signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode

    def tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def service(name: str, env: dict[str, str], log_dir: Path, profile_dir: Path | None = None) -> Proc:
    """A service of services/<name> under uvicorn, ready when /readyz answers 200."""
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", f"{name}.main:app", "--host", "127.0.0.1", "--port", str(port),
            "--log-level", "warning", "--no-access-log"]
    return Proc(name, argv, {**env, f"{name.upper()}_PORT": str(port)}, log_dir / f"{name}.log",
                ready_url=f"http://127.0.0.1:{port}/readyz",
                profile_path=profile_dir / f"{name}.prof" if profile_dir else None)


def url_of(proc: Proc) -> str:
    assert proc.ready_url is not None
    return proc.ready_url.rsplit("/", 1)[0]


def departments(env: dict[str, str], log_dir: Path, profile_dir: Path | None = None, *args: str) -> Proc:
    """The simulated departments (devstack.simulators): every step approved at once."""
    argv = [sys.executable, "-m", "devstack.simulators", *args]
    return Proc("departments", argv, {**env, "SIMULATOR_SERVICE_NAME": "department-simulator"},
                log_dir / "departments.log", ready_marker="department simulator ready",
                profile_path=profile_dir / "departments.prof" if profile_dir else None)
