"""The contract tier's guard (conftest.py) refuses network and process I/O."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest


def test_a_connection_is_refused() -> None:
    with pytest.raises(RuntimeError, match="contract tests do no I/O"):
        socket.create_connection(("127.0.0.1", 9), timeout=0.5)


def test_a_process_is_refused() -> None:
    with pytest.raises(RuntimeError, match="contract tests do no I/O"):
        subprocess.run([sys.executable, "-c", "pass"], check=True)
