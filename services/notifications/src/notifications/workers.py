"""Background entry points (the timer-driven sibling of consumers.py): two pollers sweep
the ``due_at`` fields of messages and webhook deliveries, each pass one service call.
They are woken right after a consumer commits new work, and poll otherwise."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import httpx

from notifications import service
from notifications.config import Settings
from notifications.domain import Rules, WebhookPolicy
from notifications.ports import Providers, WebhookSender
from notifications.providers import ProviderDirectory
from notifications.webhooks import HttpWebhookSender
from servicekit.app import ServiceKit
from servicekit.mongo import sleep_or

log = logging.getLogger(__name__)


class Poller:
    """Runs ``run_once`` every ``interval`` seconds (at once again while it fills its batch)."""

    def __init__(self, name: str, run_once: Callable[[], Awaitable[int]], *, interval: float, batch: int) -> None:
        self.name, self.run_once, self.interval, self.batch = name, run_once, interval, batch
        self.wakeup = asyncio.Event()
        self.done = 0
        self._task: asyncio.Task[None] | None = None

    def notify(self) -> None:
        self.wakeup.set()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        while True:
            n = 0
            try:
                n = await self.run_once()
                self.done += n
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s pass failed; retrying", self.name)
            if n < self.batch:
                await sleep_or(self.wakeup, self.interval)


class Runtime:
    """The delivery side of the service: HTTP client, provider adapters, webhook sender
    and the two pollers; started and stopped with the kit."""

    def __init__(self, kit: ServiceKit, settings: Settings, rules: Rules, webhook_policy: WebhookPolicy,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.kit, self.settings, self.rules, self.webhook_policy = kit, settings, rules, webhook_policy
        self.transport = transport
        self.client: httpx.AsyncClient | None = None
        self.providers: Providers | None = None
        self.sender: WebhookSender | None = None
        self.messages = Poller("message-dispatcher", self._messages_once,
                               interval=settings.delivery_poll_seconds, batch=settings.delivery_batch)
        self.webhooks = Poller("webhook-dispatcher", self._webhooks_once,
                               interval=settings.webhook_poll_seconds, batch=settings.webhook_batch)

    def wake(self) -> None:
        self.messages.notify()
        self.webhooks.notify()

    async def start(self, kit: ServiceKit) -> None:
        s = self.settings
        self.client = httpx.AsyncClient(transport=self.transport, follow_redirects=False,
                                        timeout=httpx.Timeout(s.provider_timeout_seconds),
                                        limits=httpx.Limits(max_connections=max(s.delivery_concurrency,
                                                                                s.webhook_concurrency) * 2))
        self.providers = self.providers or ProviderDirectory(s, self.client)
        self.sender = self.sender or HttpWebhookSender(self.client, timeout=s.webhook_timeout_seconds)
        self.messages.start()
        self.webhooks.start()

    async def stop(self, kit: ServiceKit) -> None:
        await self.messages.stop()
        await self.webhooks.stop()
        if self.client is not None:
            await self.client.aclose()

    async def _messages_once(self) -> int:
        assert self.providers is not None
        return await service.dispatch_due_messages(
            uow=self.kit.uow, providers=self.providers, rules=self.rules, clock=self.kit.clock,
            limit=self.settings.delivery_batch, concurrency=self.settings.delivery_concurrency)

    async def _webhooks_once(self) -> int:
        assert self.sender is not None
        return await service.dispatch_due_webhooks(
            uow=self.kit.uow, sender=self.sender, policy=self.webhook_policy, clock=self.kit.clock,
            limit=self.settings.webhook_batch, concurrency=self.settings.webhook_concurrency)
