"""Problem Details for HTTP APIs (RFC 9457): every error body is application/problem+json."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)


class Problem(Exception):
    """Raise from a route (or map a domain error to it) to answer with problem+json."""

    def __init__(self, status: int, title: str, detail: str | None = None, *,
                 type_: str = "about:blank", errors: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail or title)
        self.status, self.title, self.detail, self.type = status, title, detail, type_
        self.errors, self.headers, self.extra = errors, headers or {}, extra


def problem_response(request: Request, status: int, title: str, detail: str | None = None, *,
                     type_: str = "about:blank", errors: list[dict[str, Any]] | None = None,
                     **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": type_, "title": title, "status": status, "instance": request.url.path}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:] or parts
    return ".".join(parts)


def install_problem_handlers(app: FastAPI, domain_errors: Mapping[type[Exception], int] | None = None) -> None:
    """Validation errors name every bad field at once; domain errors map to 4xx."""

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": _field_name(tuple(e.get("loc", ()))), "message": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        fields = ", ".join(sorted({e["field"] for e in errors}))
        return problem_response(request, 422, "Invalid request", f"Invalid fields: {fields}", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        resp = problem_response(request, exc.status_code, str(exc.detail) if exc.detail else "Error")
        for k, v in (exc.headers or {}).items():
            resp.headers[k] = v
        return resp

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        resp = problem_response(request, exc.status, exc.title, exc.detail, type_=exc.type, errors=exc.errors,
                                **exc.extra)
        resp.headers.update(exc.headers)
        return resp

    for cls, status in (domain_errors or {}).items():

        async def _domain(request: Request, exc: Exception, _status: int = status) -> JSONResponse:
            errors = getattr(exc, "errors", None)
            return problem_response(request, _status, type(exc).__name__, str(exc), errors=errors)

        app.add_exception_handler(cls, _domain)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return problem_response(request, 500, "Internal Server Error")
