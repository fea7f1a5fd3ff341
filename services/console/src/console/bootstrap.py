"""The composition root: settings → logging and tracing → the services' client → sessions →
the pages. The console has no database and no broker: it reads the services' HTTP APIs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from console import login, web
from console.backends import Backends
from console.config import Settings
from console.pages import ROUTERS
from console.sessions import SessionStore
from servicekit.auth import TokenVerifier
from servicekit.clock import Clock, SystemClock
from servicekit.config import load
from servicekit.limits import RequestLimits
from servicekit.telemetry import setup_logging, setup_tracing


def security_headers(settings: Settings) -> dict[str, str]:
    """Nothing but the console's own scripts, styles and images; forms post only to the console
    (and to the identity provider, whose login form it redirects to)."""
    csp = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
           f"connect-src 'self'; form-action 'self' {settings.issuer_url}; frame-ancestors 'none'; "
           "base-uri 'none'; object-src 'none'")
    return {"Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY", "Permissions-Policy": "camera=(), microphone=(), geolocation=()"}


def create_app(settings: Settings | None = None, *, clock: Clock | None = None,
               transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    settings = settings or load(Settings)
    setup_logging(settings.service_name, settings.log_level)
    setup_tracing(settings.service_name, settings.otel_exporter)
    backends = Backends(settings, transport)
    state = web.Console(settings, backends, SessionStore(max_sessions=settings.max_sessions), clock or SystemClock(),
                        TokenVerifier(settings))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await backends.start()
        try:
            yield
        finally:
            await backends.close()

    app = FastAPI(title="One Window — Operator console and hall screens (运营控制台·大厅屏)", lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url=None)
    app.state.console = state
    web.install_error_pages(app)
    headers = security_headers(settings)

    @app.middleware("http")
    async def secure(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        for k, v in headers.items():
            response.headers.setdefault(k, v)
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        return JSONResponse({"status": "ready"})

    app.mount("/static", StaticFiles(directory=str(web.HERE / "static")), name="static")
    app.include_router(login.router)
    for router in ROUTERS:
        app.include_router(router)
    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz,static")
    app.add_middleware(RequestLimits, max_body=settings.max_body_bytes, max_target=settings.max_target_bytes)
    return app
