"""Services as real processes (uvicorn) for the e2e tier."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from devstack.servers import free_port, spawn, stop_process

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class ServiceProcess:
    name: str
    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    argv: list[str] | None = None  # a non-HTTP process (e.g. the department simulator)
    app: str = ""  # the ASGI app (default <name>.main:app)
    env_prefix: str = ""  # the service's settings prefix (default <NAME>_)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> ServiceProcess:
        env = {**os.environ, **self.env, f"{self.env_prefix or self.name.upper() + '_'}PORT": str(self.port)}
        argv = self.argv or [sys.executable, "-m", "servicekit.server", self.app or f"{self.name}.main:app", "--host", "127.0.0.1",
                             "--port", str(self.port), "--log-level", "warning"]
        self.proc = spawn(argv, self.log_path, env, ROOT)
        if self.argv is not None:
            return self._wait_log("ready", timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited {self.proc.returncode}:\n{self.tail()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready in {timeout}s:\n{self.tail()}")

    def _wait_log(self, marker: str, timeout: float) -> ServiceProcess:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited {self.proc.returncode}:\n{self.tail()}")
            if marker in self.tail(200):
                return self
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready in {timeout}s:\n{self.tail()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks run."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        stop_process(self.proc, 20)

    def tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""
