"""The console's web plumbing: templates, the logged-in user, roles, CSRF, forms and HTML errors.

Every page is server-rendered (Jinja2, autoescaped); htmx swaps fragments of the same
templates. A page's route declares the roles it serves (``allowed(...)``); a user without
one sees a 403 page, never another role's data. A form is parsed into a strict pydantic
model; what it refuses, and what a service refuses (its problem+json ``errors``), is shown
next to the field it names, never as a stack trace.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ValidationError

from console import domain
from console.backends import BackendDown, BackendProblem, Backends
from console.config import Settings
from console.sessions import COOKIE, Session, SessionStore
from servicekit.auth import TokenVerifier
from servicekit.clock import Clock
from servicekit.principal import Role

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.globals.update(local=domain.local, ROLE_LABELS=domain.ROLE_LABELS, DEPARTMENTS=domain.DEPARTMENTS)
M = TypeVar("M", bound=BaseModel)


@dataclass
class Console:
    """What the pages use, bound once by the composition root."""

    settings: Settings
    backends: Backends
    sessions: SessionStore
    clock: Clock
    verifier: TokenVerifier


def console(request: Request) -> Console:
    c: Console = request.app.state.console
    return c


class LoginRequired(Exception):
    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class Forbidden(Exception):
    pass


class CsrfFailed(Exception):
    pass


def current_session(request: Request) -> Session | None:
    c = console(request)
    return c.sessions.get(request.cookies.get(COOKIE), c.clock.now())


async def user(request: Request) -> Session:
    session = current_session(request)
    if session is None:
        raise LoginRequired(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    if request.method not in ("GET", "HEAD"):
        presented = request.headers.get("X-CSRF-Token")
        if presented is None:
            form = await request.form()
            value = form.get("csrf")
            presented = value if isinstance(value, str) else None
        if not session.csrf_ok(presented):
            raise CsrfFailed()
    return session


def allowed(roles: frozenset[Role]) -> Callable[..., Awaitable[Session]]:
    """Dependency: the logged-in user, who must hold one of ``roles``."""

    async def _dep(session: Session = Depends(user)) -> Session:
        if session.principal.role not in roles:
            raise Forbidden()
        return session

    return _dep


def render(request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    session = ctx.pop("session", None) or current_session(request)
    c = console(request)
    base: dict[str, Any] = {
        "session": session,
        "nav": domain.nav_for(session.principal.role) if session else [],
        "csrf": session.csrf if session else "",
        "now": c.clock.now(),
        "settings": c.settings,
        "path": request.url.path,
        "idempotency_key": str(uuid.uuid4()),
        "errors": {},
        "values": {},
    }
    return templates.TemplateResponse(request, name, {**base, **ctx}, status_code=status)


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


# -- forms -----------------------------------------------------------------------------------------------
CONTROL_FIELDS = ("csrf", "idempotency_key")


async def form_values(request: Request) -> dict[str, Any]:
    """The submitted fields (a repeated field as a list), without the console's own."""
    form = await request.form()
    values: dict[str, Any] = {}
    for key in form:
        if key in CONTROL_FIELDS:
            continue
        items = [v for v in form.getlist(key) if isinstance(v, str)]
        values[key] = items if len(items) > 1 else (items[0] if items else "")
    return values


async def idempotency_key(request: Request) -> str | None:
    form = await request.form()
    value = form.get("idempotency_key")
    try:
        return str(uuid.UUID(value)) if isinstance(value, str) else None
    except ValueError:
        return None


def parse(model: type[M], values: dict[str, Any]) -> tuple[M | None, dict[str, str]]:
    """``values`` as ``model``, or the readable error of each field it refuses."""
    cleaned = {k: v for k, v in values.items() if not (isinstance(v, str) and v.strip() == "")}
    try:
        return model.model_validate(cleaned), {}
    except ValidationError as exc:
        return None, domain.form_errors(exc.errors())


def refusal(exc: BackendProblem) -> BackendProblem:
    """A service's refusal of what a form asked (409, 422), to show beside the form's fields;
    anything else is raised again, for the error pages."""
    if exc.status not in (409, 422):
        raise exc
    return exc


def problem_errors(exc: BackendProblem) -> dict[str, str]:
    """A service's refusal as ``{field: message}``, its detail under ``_`` (the form's own line)."""
    errors = domain.service_errors(exc.problem.get("errors") or [])
    errors.setdefault("_", exc.detail)
    return errors


# -- HTML errors --------------------------------------------------------------------------------------------
def install_error_pages(app: Any) -> None:
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        target = "/login?next=" + _quote(domain.safe_next(exc.next_path))
        if is_htmx(request):
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        return render(request, "error.html", 403, title="无权访问",
                      message="您的角色不能使用此页面。如需使用，请联系中心管理员。")

    @app.exception_handler(CsrfFailed)
    async def _csrf(request: Request, exc: CsrfFailed) -> Response:
        return render(request, "error.html", 403, title="页面已过期",
                      message="表单已过期或来自别处。请刷新页面后重新提交。")

    @app.exception_handler(BackendDown)
    async def _down(request: Request, exc: BackendDown) -> Response:
        return render(request, "error.html", 503, title="服务暂时不可用",
                      message=f"{exc.service} 服务暂时没有应答，请稍后再试。")

    @app.exception_handler(BackendProblem)
    async def _problem(request: Request, exc: BackendProblem) -> Response:
        if exc.status == 401:  # the token was refused (expired, revoked key): log in again
            return await _login(request, LoginRequired(request.url.path))
        status = exc.status if exc.status in (403, 404, 409, 422) else 502
        titles = {403: "无权访问", 404: "没有找到", 409: "已被他人修改", 422: "无法办理", 502: "服务出错"}
        return render(request, "error.html", status, title=titles[status], message=exc.detail)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        fields = "、".join(sorted({str(e.get("loc", ("", ""))[-1]) for e in exc.errors()}))
        return render(request, "error.html", 422, title="地址有误",
                      message=f"链接中的参数不正确（{fields}）。请从页面上的导航或表单进入。")

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        titles = {404: "没有找到此页面", 405: "不支持的操作", 413: "提交的内容太大", 414: "地址太长"}
        return render(request, "error.html", exc.status_code, title=titles.get(exc.status_code, "请求有误"),
                      message=str(exc.detail) if exc.status_code not in (404, 405) else "请检查地址，或从导航进入。")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s", request.url.path)
        return render(request, "error.html", 500, title="出错了", message="页面暂时无法显示，已记录此错误。请稍后再试。")


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")


def now(request: Request) -> datetime:
    return console(request).clock.now()
