"""The contract tier reads code and committed documents only: no network, no processes.

While a contract test runs, a connection or a new process started from its thread fails it
at once. A test that asks for the session's real servers (``infra``) is exempt, and its
docstring says why it needs them."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

_IO_EVENTS = frozenset({"socket.connect", "socket.sendto", "subprocess.Popen", "os.system", "os.posix_spawn",
                        "os.fork", "os.exec"})
_guarded: threading.Thread | None = None  # the thread running a contract test, while it runs


def _refuse_io(event: str, args: tuple[Any, ...]) -> None:
    if event in _IO_EVENTS and _guarded is threading.current_thread():
        raise RuntimeError(f"contract tests do no I/O ({event} {args!r}): move the test to the integration tier")


sys.addaudithook(_refuse_io)  # audit hooks cannot be removed: it only acts while `_guarded` is set


@pytest.fixture(autouse=True)
def _no_io(request: pytest.FixtureRequest) -> Iterator[None]:
    global _guarded
    if "infra" in request.fixturenames:
        yield
        return
    _guarded = threading.current_thread()
    try:
        yield
    finally:
        _guarded = None
