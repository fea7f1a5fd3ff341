"""Run a server that must outlive the services: the broker, the database, the gateways.

    python -m devstack.outlive [--grace S] -- CMD ARGS...

The process runner (honcho) stops a platform by signalling every process group at once,
also when one process crashed: a service whose broker or database is already gone then
hangs in its shutdown. Run through this, the server sits in a session of its own (the
runner's signal does not reach it) and dies with this process (``PR_SET_PDEATHSIG``). On
SIGTERM or SIGINT this waits until no service process of the platform (found by the
``DEVSTACK_PLATFORM`` marker in its environment) is left — a service closes its port at
once but needs the broker and the database for its shutdown — at most ``--grace``
seconds, then stops the server with SIGTERM and exits with its code. A server that exits
by itself ends this too, with its code, so the runner sees the crash.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time

from devstack.stack import MARKER, service_pids
from devstack.wait_then import _split

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child: SIGTERM when this wrapper dies, even by SIGKILL (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def main(argv: list[str] | None = None) -> None:
    own, command = _split(sys.argv[1:] if argv is None else argv)
    if not command:
        raise SystemExit("outlive: no command after --")
    parser = argparse.ArgumentParser(prog="python -m devstack.outlive")
    parser.add_argument("--grace", type=float, default=10.0, help="seconds to wait for the services at most")
    args = parser.parse_args(own)
    marker = f"{MARKER}={os.environ[MARKER]}" if MARKER in os.environ else None

    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    child = subprocess.Popen(command, start_new_session=True, preexec_fn=_die_with_parent)
    while child.poll() is None and not stopping.is_set():
        stopping.wait(0.2)
    if child.poll() is None:
        print(f"outlive: stopping {command[0]} once the services have stopped", file=sys.stderr, flush=True)
        deadline = time.monotonic() + args.grace
        while marker and service_pids(marker) and time.monotonic() < deadline:
            time.sleep(0.1)
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    sys.exit(child.returncode if child.returncode >= 0 else 128 - child.returncode)


if __name__ == "__main__":
    main()
