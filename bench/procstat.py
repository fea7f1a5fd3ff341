"""CPU seconds and resident memory of processes, by pid.

psutil when it is installed; otherwise ``/proc`` (Linux), which gives the same figures:
``utime + stime`` of ``/proc/<pid>/stat`` and the kernel's own high-water mark of the
resident set, ``VmHWM`` of ``/proc/<pid>/status`` (the peak RSS since the process
started, not a sample). A :class:`Sampler` adds the peak RSS inside a time window."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field

try:  # optional: not a dependency of the workspace
    import psutil
except ImportError:  # pragma: no cover - depends on the environment
    psutil = None

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
BACKEND = "psutil" if psutil is not None else "/proc"


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has spent (children not included)."""
    if psutil is not None:
        t = psutil.Process(pid).cpu_times()
        return float(t.user + t.system)
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime (fields 14 and 15)


def machine_busy_seconds() -> float | None:
    """CPU seconds the whole machine has been busy (all cores, /proc/stat), or None."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / _TICK


def _status_kib(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def rss_bytes(pid: int) -> int:
    if psutil is not None:
        return int(psutil.Process(pid).memory_info().rss)
    return _status_kib(pid, "VmRSS") * 1024


def peak_rss_bytes(pid: int) -> int | None:
    """Peak RSS since the process started (VmHWM), or None where the OS does not tell."""
    try:
        return _status_kib(pid, "VmHWM") * 1024
    except OSError:
        return None


@dataclass
class Usage:
    cpu_s: float
    peak_rss: int  # bytes, sampled within the window (and VmHWM where known)
    rss_end: int


@dataclass
class Sampler:
    """Samples the RSS of named pids every ``interval`` seconds between start() and stop(),
    and their CPU seconds at both ends: the usage of each process inside the window."""

    pids: dict[str, int]
    interval: float = 0.25
    _cpu0: dict[str, float] = field(default_factory=dict)
    _peak: dict[str, int] = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None
    wall0: float = 0.0
    wall_s: float = 0.0
    other_cpu_s: float | None = None  # busy CPU of the machine not spent by ``pids`` (other load)
    _busy0: float | None = None

    def _sample(self) -> None:
        for name, pid in self.pids.items():
            try:
                self._peak[name] = max(self._peak.get(name, 0), rss_bytes(pid))
            except (OSError, ValueError):
                pass
            except Exception:  # psutil.NoSuchProcess and friends
                pass

    async def _run(self) -> None:
        while True:
            self._sample()
            await asyncio.sleep(self.interval)

    def start(self) -> Sampler:
        self.wall0 = time.monotonic()
        self._cpu0 = {n: _safe_cpu(p) for n, p in self.pids.items()}
        self._busy0 = machine_busy_seconds()
        self._task = asyncio.create_task(self._run())
        return self

    async def stop(self) -> dict[str, Usage]:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self._sample()
        self.wall_s = time.monotonic() - self.wall0
        busy1 = machine_busy_seconds()
        out = {}
        for name, pid in self.pids.items():
            rss = 0
            try:
                rss = rss_bytes(pid)
            except Exception:
                pass
            out[name] = Usage(cpu_s=round(_safe_cpu(pid) - self._cpu0.get(name, 0.0), 3),
                              peak_rss=self._peak.get(name, rss), rss_end=rss)
        if self._busy0 is not None and busy1 is not None:
            self.other_cpu_s = round(max(0.0, busy1 - self._busy0 - sum(u.cpu_s for u in out.values())), 2)
        return out


def _safe_cpu(pid: int) -> float:
    try:
        return cpu_seconds(pid)
    except Exception:
        return 0.0
