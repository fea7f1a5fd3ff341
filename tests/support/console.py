"""The console in-process for component tests: its calls to the services answered by real
service apps (ASGI, in-process) or by a handler, and a user logged in without the browser.

    async with console_client({"ratings": ratings_app, "registration": handler}) as (client, login):
        cookies = login(Principal("owner1", Role.SUPERVISOR))   # also sets client's cookie
        page = await client.get("/ledger")

A service not given answers 503 (the console must show its "unavailable" page).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from asgi_lifespan import LifespanManager

from console.bootstrap import create_app
from console.config import Settings
from console.sessions import COOKIE, Session
from servicekit.clock import Clock
from servicekit.principal import Principal
from tests.support.auth import sign

Handler = Callable[[httpx.Request], httpx.Response]


class Routing(httpx.AsyncBaseTransport):
    """Sends each request to the service whose base URL it names."""

    def __init__(self, settings: Settings, backends: Mapping[str, Any]) -> None:
        self.by_host: dict[str, httpx.AsyncBaseTransport] = {}
        for service, target in backends.items():
            host = httpx.URL(settings.backend(service)).netloc.decode()
            self.by_host[host] = (httpx.MockTransport(target) if not hasattr(target, "router")
                                  else httpx.ASGITransport(app=target))
        self.calls: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        transport = self.by_host.get(request.url.netloc.decode())
        if transport is None:
            raise httpx.ConnectError("no such service in this test", request=request)
        return await transport.handle_async_request(request)


@contextlib.asynccontextmanager
async def console_client(backends: Mapping[str, Any], *, clock: Clock | None = None,
                         settings: Settings | None = None) -> AsyncIterator[tuple[httpx.AsyncClient, Callable[[Principal], Session]]]:
    settings = settings or Settings()
    routing = Routing(settings, backends)
    app = create_app(settings, clock=clock, transport=routing)
    async with LifespanManager(app):
        state = app.state.console
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console.test") as client:

            def login(principal: Principal) -> Session:
                """A session as /auth/callback makes one, with a token the services accept."""
                now = state.clock.now()
                session = state.sessions.create(token=sign(principal), principal=principal,
                                                expires_at=now + timedelta(hours=1), now=now)
                client.cookies.set(COOKIE, session.id)
                return session

            client.routing = routing  # type: ignore[attr-defined]
            yield client, login


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]
