"""The only module that talks to the services: their HTTP APIs, with the user's own token.

The console never reads a service's database or the bus (import-linter forbids it). Every
call carries the user's bearer token, so each service applies its own rules to the user;
the console adds none of its own beyond hiding what a role cannot use. A call's failure is
one of two exceptions: :class:`BackendProblem` (the service answered 4xx/5xx, with its
problem+json) or :class:`BackendDown` (no answer in time).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

import httpx

from console.config import Settings
from servicekit.telemetry import current_traceparent

log = logging.getLogger(__name__)
SERVICES = ("registration", "approvals", "ratings", "notifications", "crossregion")


class BackendDown(Exception):
    def __init__(self, service: str, reason: str) -> None:
        super().__init__(f"{service}: {reason}")
        self.service, self.reason = service, reason


class BackendProblem(Exception):
    """A service's answer of 4xx/5xx; ``problem`` is its problem+json body (or a stand-in)."""

    def __init__(self, service: str, status: int, problem: Mapping[str, Any]) -> None:
        super().__init__(f"{service}: {status} {problem.get('detail') or problem.get('title')}")
        self.service, self.status, self.problem = service, status, dict(problem)

    @property
    def detail(self) -> str:
        return str(self.problem.get("detail") or self.problem.get("title") or self.status)

    def field_errors(self) -> dict[str, str]:
        """``{field: message}`` of the problem's ``errors`` (the last path part of each field)."""
        out: dict[str, str] = {}
        for e in self.problem.get("errors") or []:
            if isinstance(e, dict) and e.get("field") is not None:
                out.setdefault(str(e["field"]), str(e.get("message") or e.get("type") or ""))
        return out


class Backends:
    """One pooled HTTP client for all the services (opened in the lifespan)."""

    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings = settings
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        self._client = httpx.AsyncClient(timeout=self.settings.backend_timeout_seconds, transport=self._transport,
                                         follow_redirects=False,
                                         limits=httpx.Limits(max_connections=50, max_keepalive_connections=20))

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            raise RuntimeError("backends not started")
        return self._client

    async def call(self, service: str, method: str, path: str, *, token: str | None = None,
                   params: Mapping[str, Any] | None = None, json: Any = None,
                   idempotency_key: str | None = None) -> Any:
        """The JSON answer of ``method path`` on ``service`` (``None`` for 204)."""
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if method != "GET":
            headers["Idempotency-Key"] = idempotency_key or str(uuid.uuid4())
        traceparent = current_traceparent()
        if traceparent:
            headers["traceparent"] = traceparent
        url = self.settings.backend(service) + path
        try:
            resp = await self.client.request(method, url, params=params, json=json, headers=headers)
        except httpx.HTTPError as exc:
            log.warning("%s %s %s: %s", service, method, path, type(exc).__name__)
            raise BackendDown(service, type(exc).__name__) from exc
        if resp.status_code >= 400:
            try:
                body = resp.json()
            except ValueError:
                body = {"title": resp.reason_phrase, "status": resp.status_code}
            if not isinstance(body, dict):
                body = {"title": resp.reason_phrase, "status": resp.status_code}
            raise BackendProblem(service, resp.status_code, body)
        if resp.status_code == 204 or not resp.content:
            return None
        return resp.json()

    async def get(self, service: str, path: str, *, token: str | None = None,
                  params: Mapping[str, Any] | None = None) -> Any:
        return await self.call(service, "GET", path, token=token, params=params)

    async def probe(self, service: str, path: str = "/readyz") -> tuple[int | None, Any]:
        """``(status, body)`` of an unauthenticated probe; ``(None, reason)`` when it does not answer."""
        try:
            resp = await self.client.get(self.settings.backend(service) + path, timeout=2.0)
        except httpx.HTTPError as exc:
            return None, type(exc).__name__
        try:
            return resp.status_code, resp.json()
        except ValueError:
            return resp.status_code, None
