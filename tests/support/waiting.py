"""Waiting for something to happen, in async and in sync tests: one helper each, same
semantics (poll until truthy, fail with the last value). To show that something did
NOT happen, wait for a later marker (an event published after it, a message sent after
it) and then assert: never a fixed sleep."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def eventually(check: Callable[[], Awaitable[T]], timeout: float = 20, interval: float = 0.1,
                     what: str = "condition") -> T:
    """Poll ``check`` until it returns a truthy value (returned); fail with the last value."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while asyncio.get_running_loop().time() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"{what} not met within {timeout}s (last: {last!r})")


def wait_for(check: Callable[[], T], timeout: float = 30, interval: float = 0.2, what: str = "condition") -> T:
    """The synchronous twin of :func:`eventually` (e2e tests driving processes)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"{what} not met within {timeout}s (last: {last!r})")
