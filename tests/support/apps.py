"""Run service apps in-process against the session's real servers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from servicekit.auth import Principal, Role, TokenCodec
from servicekit.config import ServiceSettings


def token(settings: ServiceSettings, sub: str, role: Role = Role.APPLICANT, **kw: Any) -> dict[str, str]:
    codec = TokenCodec(settings.jwt_secret, settings.jwt_audience)
    return {"Authorization": f"Bearer {codec.issue(Principal(sub, role, **kw))}"}


@contextlib.asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            client.kit = app.state.kit  # type: ignore[attr-defined]
            yield client


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 20, interval: float = 0.1) -> Any:
    """Poll ``check`` until it returns a truthy value; fail with the last value."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while asyncio.get_running_loop().time() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last: {last!r})")
