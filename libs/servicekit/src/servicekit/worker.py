"""One background-loop class for every poller of a service: the outbox relay, the timer
sweeper, a service's dispatchers. One way to start, wake and stop them.

A :class:`Worker` calls ``run_once()`` (which returns how much it did) again at once
while it fills its batch, otherwise waits ``interval`` seconds or until :meth:`notify`.
A failing pass is logged (at most once per ``log_every`` seconds with its count) and
retried after the interval. :meth:`stop` lets the pass in progress finish (cancels it
after ``timeout``), then runs ``drain`` once if given (e.g. the relay publishes what is
still pending)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class Worker:
    def __init__(self, name: str, run_once: Callable[[], Awaitable[int]], *, interval: float,
                 batch: int | None = None, linger: float = 0.0,
                 after_pass: Callable[[int], None] | None = None,
                 drain: Callable[[], Awaitable[object]] | None = None, log_every: float = 30.0) -> None:
        """``batch``: a pass that did this much (or more) is followed by another at once
        (None: only after a notify or the interval). ``linger``: after a wake-up, wait
        this long so that work arriving together shares one pass. ``after_pass(n)`` is
        called after each pass that did something (n > 0)."""
        self.name, self.run_once, self.interval, self.batch = name, run_once, interval, batch
        self.linger, self.after_pass, self.drain, self.log_every = linger, after_pass, drain, log_every
        self.done = 0
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._failures = 0
        self._last_log = 0.0

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def notify(self) -> None:
        """Run a pass now (or as soon as the one in progress ends)."""
        self._wakeup.set()

    def start(self) -> None:
        if self.running:
            return
        self._stopping = False
        self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self, timeout: float = 5.0) -> None:
        task, self._task = self._task, None
        self._stopping = True
        self._wakeup.set()
        if task is not None:
            done, _ = await asyncio.wait({task}, timeout=timeout)
            if not done:
                log.warning("%s did not stop within %ss: cancelling", self.name, timeout)
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self.drain is not None:
            try:
                await asyncio.wait_for(self.drain(), timeout=timeout)
            except Exception as exc:  # the next start does it
                log.warning("%s not drained at stop: %s", self.name, exc)

    async def pass_once(self) -> int:
        """One pass now (tests, and the loop). Exceptions propagate."""
        n = await self.run_once()
        self.done += n
        if n and self.after_pass is not None:
            self.after_pass(n)
        return n

    async def _loop(self) -> None:
        while not self._stopping:
            n = 0
            try:
                n = await self.pass_once()
                self._failures = 0
            except asyncio.CancelledError:
                raise
            except Exception:
                self._failed()
            if self._stopping:
                return
            if self.batch is not None and n >= self.batch:
                await asyncio.sleep(0)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=self.interval)
            self._wakeup.clear()
            if self.linger and not self._stopping:
                await asyncio.sleep(self.linger)

    def _failed(self) -> None:
        """A repeated failure is logged with its traceback at most once per ``log_every``."""
        self._failures += 1
        now = time.monotonic()
        if self._failures == 1 or now - self._last_log >= self.log_every:
            self._last_log = now
            log.exception("%s pass failed (%d in a row); retrying", self.name, self._failures)


__all__ = ["Worker"]
