"""Problem Details for HTTP APIs (RFC 9457): every error body is application/problem+json,
of one shape: ``type``, ``title`` (always the status's HTTP reason phrase, RFC 9110), ``status``,
``instance``, ``detail`` (readable), and where they apply ``code`` (what went wrong, e.g.
the domain error's name: ``NameTaken``) and ``errors`` (each bad field: ``field``, ``message``,
``type``)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)

# RFC 9110's names where Python's differ (and differ between Python versions)
_PHRASES = {413: "Content Too Large", 414: "URI Too Long", 422: "Unprocessable Content"}


def reason(status: int) -> str:
    """The HTTP reason phrase of a status code: every problem's ``title``."""
    if status in _PHRASES:
        return _PHRASES[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class Problem(Exception):
    """Raise from a route (or map a domain error to it) to answer with problem+json. The
    title is the status's reason phrase; ``code`` says what went wrong, when useful."""

    def __init__(self, status: int, title: str | None = None, detail: str | None = None, *,
                 type_: str = "about:blank", errors: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail or title or reason(status))
        self.status, self.title, self.detail, self.type = status, reason(status), detail, type_
        self.errors, self.headers, self.extra = errors, headers or {}, extra
        if code:
            self.extra["code"] = code


def problem_response(request: Request, status: int, title: str | None = None, detail: str | None = None, *,
                     type_: str = "about:blank", errors: list[dict[str, Any]] | None = None,
                     **extra: Any) -> JSONResponse:
    """``title`` is ignored when it is not the status's reason phrase (one shape for every
    error): pass what went wrong as ``detail`` or ``code``."""
    body: dict[str, Any] = {"type": type_, "title": reason(status), "status": status, "instance": request.url.path}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def _json_position(doc: Any, pos: int) -> str:
    if isinstance(doc, bytes | bytearray):
        doc = bytes(doc).decode("utf-8", "replace")
    if not isinstance(doc, str):
        return f"character {pos}"
    line = doc.count("\n", 0, pos) + 1
    column = pos - (doc.rfind("\n", 0, pos) + 1) + 1
    return f"line {line} column {column} (character {pos})"


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:] or parts
    return ".".join(parts)


def install_problem_handlers(app: FastAPI, domain_errors: Mapping[type[Exception], int] | None = None) -> None:
    """Validation errors name every bad field at once; domain errors map to 4xx."""

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = list(exc.errors())
        if len(problems) == 1 and problems[0].get("type") == "json_invalid":
            loc = tuple(problems[0].get("loc", ()))
            pos = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else 0
            cause = (problems[0].get("ctx") or {}).get("error") or "not valid JSON"
            where = _json_position(getattr(exc, "body", None), pos)
            detail = f"The request body is not valid JSON: {cause} at {where}"
            return problem_response(request, 422, detail=detail, code="MalformedJSON",
                                    errors=[{"field": "", "message": detail, "type": "json_invalid", "position": pos}])
        errors = [
            {"field": _field_name(tuple(e.get("loc", ()))), "message": e.get("msg", ""), "type": e.get("type", "")}
            for e in problems
        ]
        fields = ", ".join(sorted({e["field"] for e in errors}))
        return problem_response(request, 422, detail=f"Invalid fields: {fields}", code="InvalidRequest", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = str(exc.detail) if exc.detail and str(exc.detail) != reason(exc.status_code) else None
        resp = problem_response(request, exc.status_code, detail=detail)
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
            return problem_response(request, _status, detail=str(exc), errors=errors, code=type(exc).__name__)

        app.add_exception_handler(cls, _domain)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return problem_response(request, 500)
