"""Login through the platform's identity provider: OpenID Connect authorization code with PKCE.

``/login`` sends the browser to the provider's ``authorization_endpoint`` (found by OIDC
discovery at ``<issuer>/.well-known/openid-configuration``) with a fresh ``state`` and a
PKCE S256 challenge; ``/auth/callback`` checks the ``state`` against the one kept for this
browser, exchanges the code (with the verifier) at the ``token_endpoint`` and verifies the
access token exactly as every service does (signature against the JWKS, issuer, audience,
lifetime, role). Only then is a session made. The console never sees a password.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from console import domain
from console.sessions import COOKIE, LOGIN_COOKIE
from console.web import Console, console, current_session, render, user
from servicekit.problems import Problem

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)


class Discovery:
    """The provider's endpoints, cached for ten minutes."""

    def __init__(self) -> None:
        self._doc: dict[str, Any] | None = None
        self._at = 0.0

    async def get(self, c: Console) -> dict[str, Any]:
        if self._doc is None or time.monotonic() - self._at > 600:
            url = c.settings.issuer_url + "/.well-known/openid-configuration"
            resp = await c.backends.client.get(url, timeout=5.0)
            resp.raise_for_status()
            doc = resp.json()
            if not isinstance(doc, dict) or "authorization_endpoint" not in doc or "token_endpoint" not in doc:
                raise ValueError("the identity provider's discovery document has no authorization or token endpoint")
            self._doc, self._at = doc, time.monotonic()
        return self._doc


discovery = Discovery()


def _client(c: Console) -> AsyncOAuth2Client:
    return AsyncOAuth2Client(client_id=c.settings.oidc_client_id, redirect_uri=c.settings.redirect_uri,
                             code_challenge_method="S256", token_endpoint_auth_method="none", timeout=5.0)


def _unavailable(request: Request) -> Response:
    return render(request, "error.html", 503, title="暂时无法登录",
                  message="统一身份认证平台暂时没有应答，请稍后再试。")


@router.get("/login")
async def login(request: Request, next: str = Query("/", max_length=2000), c: Console = Depends(console)) -> Response:
    if current_session(request) is not None:
        return RedirectResponse(domain.safe_next(next), status_code=303)
    try:
        endpoints = await discovery.get(c)
    except (httpx.HTTPError, ValueError) as exc:
        log.warning("identity provider discovery failed: %s", exc)
        return _unavailable(request)
    verifier = generate_token(64)
    async with _client(c) as client:
        url, state = client.create_authorization_url(endpoints["authorization_endpoint"], code_verifier=verifier,
                                                     scope="openid")
    key = c.sessions.begin_login(state=state, verifier=verifier, next_path=domain.safe_next(next), now=c.clock.now())
    resp = RedirectResponse(url, status_code=303)
    resp.set_cookie(LOGIN_COOKIE, key, max_age=600, httponly=True, samesite="lax", secure=c.settings.secure_cookies,
                    path="/auth")
    return resp


@router.get("/auth/callback")
async def callback(request: Request, code: str | None = Query(None, max_length=2000),
                   state: str | None = Query(None, max_length=500), error: str | None = Query(None, max_length=200),
                   c: Console = Depends(console)) -> Response:
    pending = c.sessions.finish_login(request.cookies.get(LOGIN_COOKIE), state, c.clock.now())
    if error or pending is None or not code:
        return render(request, "error.html", 400, title="登录没有完成",
                      message="登录已过期或被取消。请重新登录。", retry="/login")
    try:
        endpoints = await discovery.get(c)
        async with _client(c) as client:
            token = await client.fetch_token(endpoints["token_endpoint"], code=code, code_verifier=pending.verifier,
                                             grant_type="authorization_code")
    except Exception as exc:  # the provider refused the code or did not answer
        log.warning("token exchange failed: %s", type(exc).__name__)
        return render(request, "error.html", 400, title="登录没有完成", message="认证平台没有确认此次登录，请重新登录。",
                      retry="/login")
    access = token.get("access_token")
    try:
        principal = await c.verifier.verify(str(access))
    except Problem as exc:
        log.warning("the identity provider's token was refused: %s", exc.detail)
        return render(request, "error.html", 403, title="登录被拒绝", message="此账号的令牌无效。")
    now = c.clock.now()
    lifetime = timedelta(seconds=min(float(token.get("expires_in") or 3600), c.settings.session_hours * 3600))
    session = c.sessions.create(token=str(access), principal=principal, expires_at=now + lifetime, now=now)
    home = domain.home_for(principal.role)
    target = pending.next_path if pending.next_path != "/" else (home or "/")
    resp = RedirectResponse(target, status_code=303)
    resp.set_cookie(COOKIE, session.id, max_age=int(lifetime.total_seconds()), httponly=True, samesite="lax",
                    secure=c.settings.secure_cookies, path="/")
    resp.delete_cookie(LOGIN_COOKIE, path="/auth")
    log.info("login: %s as %s", principal.sub, principal.role.value)
    return resp


@router.post("/logout")
async def logout(request: Request, c: Console = Depends(console), session: Any = Depends(user)) -> Response:
    c.sessions.end(session.id)
    resp = RedirectResponse("/", status_code=303)
    resp.delete_cookie(COOKIE, path="/")
    return resp


@router.get("/")
async def home(request: Request) -> Response:
    session = current_session(request)
    if session is None:
        return render(request, "welcome.html")
    target = domain.home_for(session.principal.role)
    if target is None:
        return render(request, "error.html", 403, title="无权访问",
                      message="控制台供中心工作人员使用。申请人请使用政务服务网或城市 App。")
    return RedirectResponse(target, status_code=303)
