"""Run service apps in-process against the session's real servers."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from servicekit.auth import Role
from servicekit.config import ServiceSettings
from tests.support.auth import bearer
from tests.support.waiting import eventually

__all__ = ["eventually", "running", "token"]


def token(settings: ServiceSettings, sub: str, role: Role = Role.APPLICANT, **kw: Any) -> dict[str, str]:
    return bearer(sub, role, settings=settings, **kw)


@contextlib.asynccontextmanager
async def running(app: FastAPI, wrap: Callable[[Any], Any] | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """The app started (its lifespan), with a client; ``wrap`` puts an ASGI wrapper between
    them (e.g. one that loses a reply)."""
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30) as manager:
        transport = httpx.ASGITransport(app=wrap(manager.app) if wrap else manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            client.kit = app.state.kit  # type: ignore[attr-defined]
            yield client
