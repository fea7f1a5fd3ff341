"""The development token issuer: an ES256 key pair made at first run and its JWKS on loopback.

``make run`` starts it as the ``issuer`` process (``DEVSTACK_ISSUER_PORT``, 8099; keys in
``var/issuer/``) and gives every service ``JWT_ISSUER=http://127.0.0.1:8099`` and
``JWT_JWKS_URL=<issuer>/.well-known/jwks.json``; ``python -m devstack token`` signs with the
same key. The tests run one in a thread (``tests/support/auth.py``). It stands in for a real
identity provider (docs/identity-provider.md) and never leaves a developer's machine.

Run: ``python -m devstack.issuer --port 8099 --dir var/issuer``. Serves
``/.well-known/openid-configuration`` and ``/.well-known/jwks.json``; the JWKS lists every
key in the folder (``rotate()`` adds a new signing key, the old one stays published).

Login (OIDC authorization code with PKCE, for the console): registered public clients
(``clients=`` / ``--client console=http://127.0.0.1:8010/auth/callback``: a client id and its
exact redirect URIs; PKCE S256 required, ``plain`` refused) and development users
(``users=`` / ``--users config/dev-users.toml``: ``[[user]] username, name, role, department,
agency_id``; one password for all, ``DEVSTACK_USER_PASSWORD``, default ``one-window-dev``).
``GET /authorize`` shows a zh-CN login form, ``POST /authorize`` checks it and redirects to
``redirect_uri?code=...&state=...`` (codes: random, single use, 60 s, bound to the client,
the redirect URI and the challenge), ``POST /token`` exchanges the code for the platform's
access token (8 h) and an ``id_token`` (the same claims, ``aud`` the client id).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import html
import json
import os
import re
import secrets
import threading
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

DEFAULT_PORT = 8099
AUDIENCE = "one-window"
JWKS_PATH = "/.well-known/jwks.json"
DISCOVERY_PATH = "/.well-known/openid-configuration"
AUTHORIZE_PATH = "/authorize"
TOKEN_PATH = "/token"
DEFAULT_PASSWORD = "one-window-dev"
PASSWORD_ENV = "DEVSTACK_USER_PASSWORD"
CODE_TTL_SECONDS = 60.0
LOGIN_TTL = timedelta(hours=8)
MAX_FORM_BYTES = 16 * 1024
_PKCE = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")  # RFC 7636: verifier alphabet and length
_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # base64url of a SHA-256, no padding
_STATE = re.compile(r"^[\x21-\x7e]{0,512}$")  # printable ASCII, bounded


@dataclass(frozen=True)
class DevUser:
    """A development login (``config/dev-users.toml``)."""

    username: str
    name: str
    role: str
    department: str | None = None
    agency_id: str | None = None

    def claims(self) -> dict[str, str | None]:
        return {"department": self.department, "agency_id": self.agency_id, "name": self.name}


def load_users(path: Path | str) -> dict[str, DevUser]:
    """The ``[[user]]`` entries of a TOML file by username."""
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    users: dict[str, DevUser] = {}
    for entry in data.get("user", []):
        user = DevUser(str(entry["username"]), str(entry["name"]), str(entry["role"]),
                       entry.get("department"), entry.get("agency_id"))
        if user.username in users:
            raise ValueError(f"{path}: user {user.username} is listed twice")
        users[user.username] = user
    return users


@dataclass(frozen=True)
class _Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    user: DevUser
    nonce: str | None
    expires: float


class OAuthError(Exception):
    """An RFC 6749 error answer (``error`` and its description)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error, self.description = error, description


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_jwk(key: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    """The public JWK of ``key``, its ``kid`` the RFC 7638 thumbprint."""
    jwk: dict[str, str] = json.loads(ECAlgorithm.to_jwk(key.public_key()))
    canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True)
    return {**jwk, "kid": _b64(hashlib.sha256(canonical.encode()).digest()), "use": "sig", "alg": "ES256"}


class LocalIssuer:
    """Signing keys in ``directory`` (``<kid>.pem``, owner-only; ``current`` names the signing one)."""

    def __init__(self, directory: Path | str, issuer: str, *, clients: dict[str, list[str]] | None = None,
                 users: Path | str | None = None, password: str | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.directory, self.issuer = Path(directory), issuer.rstrip("/")
        self.clients = {c: list(uris) for c, uris in (clients or {}).items()}
        self.users = load_users(users) if users else {}
        self.password = password if password is not None else os.environ.get(PASSWORD_ENV, DEFAULT_PASSWORD)
        self.clock = clock
        self._grants: dict[str, _Grant] = {}
        self._lock = threading.Lock()

    @property
    def jwks_url(self) -> str:
        return self.issuer + JWKS_PATH

    def ensure(self) -> LocalIssuer:
        """Make a key pair if there is none yet."""
        if not (self.directory / "current").exists():
            self.rotate()
        return self

    def rotate(self) -> str:
        """A new signing key; earlier keys stay in the JWKS. Returns its ``kid``."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = ec.generate_private_key(ec.SECP256R1())
        kid = public_jwk(key)["kid"]
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        path = self.directory / f"{kid}.pem"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        (self.directory / "current").write_text(kid)
        return kid

    def _load(self, path: Path) -> ec.EllipticCurvePrivateKey:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key

    def jwks(self) -> dict[str, Any]:
        return {"keys": [public_jwk(self._load(p)) for p in sorted(self.directory.glob("*.pem"))]}

    def discovery(self) -> dict[str, Any]:
        return {"issuer": self.issuer, "jwks_uri": self.jwks_url, "id_token_signing_alg_values_supported": ["ES256"],
                "authorization_endpoint": self.issuer + AUTHORIZE_PATH, "token_endpoint": self.issuer + TOKEN_PATH,
                "response_types_supported": ["code"], "code_challenge_methods_supported": ["S256"],
                "grant_types_supported": ["authorization_code"], "subject_types_supported": ["public"],
                "token_endpoint_auth_methods_supported": ["none"], "scopes_supported": ["openid"]}

    def sign(self, claims: dict[str, Any], headers: dict[str, Any] | None = None) -> str:
        """``claims`` signed ES256 with the current key (its ``kid`` in the header)."""
        kid = (self.directory / "current").read_text().strip()
        return jwt.encode(claims, self._load(self.directory / f"{kid}.pem"), algorithm="ES256",
                          headers={"kid": kid, **(headers or {})})

    def token(self, *, sub: str, role: str, audience: str = AUDIENCE, ttl: timedelta = timedelta(hours=1),
              now: datetime | None = None, **extra: str | None) -> str:
        """A token as the platform expects one: ``iss``, ``aud``, ``sub``, ``role``, ``iat``,
        ``exp`` and the optional ``department`` / ``agency_id`` / ``name``."""
        issued = now or datetime.now(UTC)
        claims: dict[str, Any] = {"iss": self.issuer, "aud": audience, "sub": sub, "role": role,
                                  "iat": int(issued.timestamp()), "exp": int((issued + ttl).timestamp())}
        claims.update({k: v for k, v in extra.items() if v})
        return self.sign(claims)

    # -- authorization code with PKCE -------------------------------------------------------
    def check_client(self, client_id: str, redirect_uri: str) -> None:
        """Refuses an unknown client or a redirect URI it did not register (exact match)."""
        if client_id not in self.clients:
            raise OAuthError("invalid_client", "未登记的客户端 (unknown client_id)")
        if redirect_uri not in self.clients[client_id]:
            raise OAuthError("invalid_request", "回调地址未登记 (redirect_uri is not registered for this client)")

    @staticmethod
    def check_request(params: dict[str, str]) -> None:
        """The rest of an authorization request (the client and redirect URI checked first)."""
        if params.get("response_type") != "code":
            raise OAuthError("unsupported_response_type", "只支持 response_type=code")
        if params.get("code_challenge_method") != "S256":
            raise OAuthError("invalid_request", "必须使用 PKCE：code_challenge_method=S256（不接受 plain）")
        if not _CHALLENGE.match(params.get("code_challenge", "")):
            raise OAuthError("invalid_request", "code_challenge 须为 43 个 base64url 字符")
        if not _STATE.match(params.get("state", "")) or len(params.get("nonce", "")) > 512:
            raise OAuthError("invalid_request", "state / nonce 过长或含不可见字符")

    def login(self, username: str, password: str) -> DevUser | None:
        """The user when the password matches (compared in constant time)."""
        user = self.users.get(username)
        ok = hmac.compare_digest(password.encode(), self.password.encode())
        return user if user is not None and ok else None

    def grant(self, user: DevUser, params: dict[str, str]) -> str:
        """A new code for ``user`` bound to the request's client, redirect URI and challenge."""
        code = secrets.token_urlsafe(32)
        now = self.clock()
        with self._lock:
            self._grants = {c: g for c, g in self._grants.items() if g.expires > now}
            self._grants[code] = _Grant(params["client_id"], params["redirect_uri"], params["code_challenge"], user,
                                        params.get("nonce") or None, now + CODE_TTL_SECONDS)
        return code

    def exchange(self, form: dict[str, str]) -> dict[str, Any]:
        """``POST /token``: the code (used once) for the access token and the id_token."""
        if form.get("grant_type") != "authorization_code":
            raise OAuthError("unsupported_grant_type", "only grant_type=authorization_code")
        missing = [k for k in ("code", "redirect_uri", "client_id", "code_verifier") if not form.get(k)]
        if missing:
            raise OAuthError("invalid_request", f"missing: {', '.join(missing)}")
        if form["client_id"] not in self.clients:
            raise OAuthError("invalid_client", "unknown client_id")
        if not _PKCE.match(form["code_verifier"]):
            raise OAuthError("invalid_request", "code_verifier must be 43-128 characters of [A-Za-z0-9._~-]")
        with self._lock:
            found = self._grants.pop(form["code"], None)  # single use, also when the exchange fails
        if found is None or found.expires <= self.clock():
            raise OAuthError("invalid_grant", "the code is unknown, used or expired")
        if found.client_id != form["client_id"] or found.redirect_uri != form["redirect_uri"]:
            raise OAuthError("invalid_grant", "the code was issued to another client or redirect_uri")
        computed = _b64(hashlib.sha256(form["code_verifier"].encode()).digest())
        if not hmac.compare_digest(computed, found.challenge):
            raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge")
        user, now = found.user, datetime.now(UTC)
        access = self.token(sub=user.username, role=user.role, ttl=LOGIN_TTL, now=now, department=user.department,
                            agency_id=user.agency_id, name=user.name)
        id_claims: dict[str, Any] = {"iss": self.issuer, "aud": found.client_id, "sub": user.username,
                                     "role": user.role, "iat": int(now.timestamp()),
                                     "exp": int((now + LOGIN_TTL).timestamp()),
                                     **{k: v for k, v in user.claims().items() if v}}
        if found.nonce:
            id_claims["nonce"] = found.nonce
        return {"access_token": access, "token_type": "Bearer", "expires_in": int(LOGIN_TTL.total_seconds()),
                "id_token": self.sign(id_claims)}

    def env(self) -> dict[str, str]:
        """The settings that make the services trust this issuer."""
        return {"JWT_ISSUER": self.issuer, "JWT_JWKS_URL": self.jwks_url}

    # -- the JWKS and the login over HTTP ----------------------------------------------------
    def server(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> ThreadingHTTPServer:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _html(self, status: int, page: str) -> None:
                self._send(status, page.encode(), "text/html; charset=utf-8", _PAGE_HEADERS)

            def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
                self._send(status, json.dumps(data, ensure_ascii=False).encode(), "application/json", headers)

            def _form(self) -> dict[str, str] | None:
                length = int(self.headers.get("Content-Length") or 0)
                ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
                if length > MAX_FORM_BYTES or ctype != "application/x-www-form-urlencoded":
                    return None
                raw = self.rfile.read(length).decode("utf-8", "replace")
                return {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True, max_num_fields=20).items()}

            def do_GET(self) -> None:
                path, _, query = self.path.partition("?")
                if path in (JWKS_PATH, DISCOVERY_PATH, "/healthz"):
                    self._json(200, issuer.jwks() if path == JWKS_PATH else issuer.discovery()
                               if path == DISCOVERY_PATH else {"status": "ok"}, {"Cache-Control": "max-age=60"})
                elif path == AUTHORIZE_PATH:
                    params = {k: v[0] for k, v in parse_qs(query, max_num_fields=20).items()}
                    self._authorize(params, None)
                else:
                    self._send(404, b'{"title": "Not Found", "status": 404}', "application/problem+json")

            def do_POST(self) -> None:
                path = self.path.split("?", 1)[0]
                form = self._form()
                if path == AUTHORIZE_PATH:
                    if form is None:
                        self._html(400, _error_page("请求格式错误（须为表单提交）"))
                    else:
                        self._authorize(form, (form.get("username", ""), form.get("password", "")))
                elif path == TOKEN_PATH:
                    if form is None:
                        self._json(400, {"error": "invalid_request",
                                         "error_description": "application/x-www-form-urlencoded, at most 16 KiB"},
                                   _TOKEN_HEADERS)
                        return
                    try:
                        self._json(200, issuer.exchange(form), _TOKEN_HEADERS)
                    except OAuthError as exc:
                        self._json(400, {"error": exc.error, "error_description": exc.description}, _TOKEN_HEADERS)
                else:
                    self._send(404, b'{"title": "Not Found", "status": 404}', "application/problem+json")

            def _authorize(self, params: dict[str, str], credentials: tuple[str, str] | None) -> None:
                try:  # never redirect to an unregistered address: an error page instead
                    issuer.check_client(params.get("client_id", ""), params.get("redirect_uri", ""))
                    issuer.check_request(params)
                except OAuthError as exc:
                    self._html(400, _error_page(exc.description))
                    return
                if credentials is None:
                    self._html(200, _login_page(params, None, credentials))
                    return
                user = issuer.login(*credentials)
                if user is None:
                    self._html(401, _login_page(params, "登录失败：用户名或密码错误", credentials))
                    return
                query = urlencode({"code": issuer.grant(user, params), "state": params.get("state", "")})
                sep = "&" if urlsplit(params["redirect_uri"]).query else "?"
                self._send(302, b"", "text/plain", {"Location": params["redirect_uri"] + sep + query,
                                                    "Cache-Control": "no-store"})

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return ThreadingHTTPServer((host, port), Handler)

    def serve_in_thread(self, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
        """Serve the JWKS from a daemon thread (port 0: any free port; ``issuer`` follows it)."""
        srv = self.server(host, port)
        self.issuer = f"http://{host}:{srv.server_address[1]}"
        threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, name="jwks", daemon=True).start()
        return srv


_PAGE_HEADERS = {"Cache-Control": "no-store", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
                 "X-Content-Type-Options": "nosniff",
                 "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; "
                                            "base-uri 'none'"}
_TOKEN_HEADERS = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_HIDDEN = ("response_type", "client_id", "redirect_uri", "state", "code_challenge", "code_challenge_method", "nonce")
_STYLE = ("body{font-family:system-ui,'Noto Sans CJK SC',sans-serif;background:#f4f6f8;color:#1a1a1a;margin:0}"
          "main{max-width:24rem;margin:4rem auto;background:#fff;padding:2rem;border-radius:8px;"
          "box-shadow:0 1px 4px rgba(0,0,0,.15)}h1{font-size:1.4rem;margin-top:0}"
          "label{display:block;margin:1rem 0 .25rem;font-weight:600}"
          "input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:.5rem;font-size:1rem;"
          "border:1px solid #555;border-radius:4px}"
          "button{margin-top:1.5rem;width:100%;padding:.6rem;font-size:1rem;background:#0b4f9c;color:#fff;"
          "border:0;border-radius:4px;cursor:pointer}button:focus,input:focus{outline:3px solid #f0a500}"
          ".error{color:#a40000;background:#fde8e8;padding:.5rem;border-radius:4px}"
          "small{color:#444}")


def _page(title: str, content: str) -> str:
    return (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
            f"<body><main>{content}</main></body></html>")


def _error_page(message: str) -> str:
    return _page("登录请求无效", f'<h1>登录请求无效</h1><p class="error" role="alert">{html.escape(message)}</p>'
                                 "<p><small>请从控制台重新发起登录。</small></p>")


def _login_page(params: dict[str, str], error: str | None, credentials: tuple[str, str] | None) -> str:
    hidden = "".join(f'<input type="hidden" name="{k}" value="{html.escape(params[k], quote=True)}">'
                     for k in _HIDDEN if k in params)
    username = html.escape(credentials[0] if credentials else "", quote=True)
    alert = f'<p class="error" role="alert" id="login-error">{html.escape(error)}</p>' if error else ""
    described = ' aria-describedby="login-error"' if error else ""
    return _page("一窗通办 · 登录", (
        f"<h1>一窗通办 · 工作人员登录</h1>{alert}"
        f'<form method="post" action="{AUTHORIZE_PATH}">{hidden}'
        f'<label for="username">用户名</label>'
        f'<input type="text" id="username" name="username" value="{username}" autocomplete="username" '
        f'required autofocus{described}>'
        f'<label for="password">密码</label>'
        f'<input type="password" id="password" name="password" autocomplete="current-password" required{described}>'
        '<button type="submit">登录</button></form>'
        "<p><small>开发环境身份提供方（devstack.issuer），仅供本机使用。</small></p>"))


def parse_client(text: str) -> tuple[str, str]:
    """``console=http://127.0.0.1:8010/auth/callback`` as (client id, redirect URI)."""
    client_id, sep, uri = text.partition("=")
    if not sep or not client_id or urlsplit(uri).scheme not in ("http", "https"):
        raise argparse.ArgumentTypeError(f"--client {text!r}: expected CLIENT_ID=http(s)://REDIRECT_URI")
    return client_id, uri


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m devstack.issuer", description=__doc__.split("\n", 1)[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=DEFAULT_PORT)
    p.add_argument("--dir", default="var/issuer", help="where the key pair is kept (made at first run)")
    p.add_argument("--client", action="append", type=parse_client, default=[], metavar="ID=REDIRECT_URI",
                   help="register a public OIDC client and one of its redirect URIs (repeatable)")
    p.add_argument("--users", default=None, help="development users ([[user]] in a TOML file)")
    args = p.parse_args(argv)
    clients: dict[str, list[str]] = {}
    for client_id, uri in args.client:
        clients.setdefault(client_id, []).append(uri)
    issuer = LocalIssuer(args.dir, f"http://{args.host}:{args.port}", clients=clients, users=args.users).ensure()
    srv = issuer.server(args.host, args.port)
    print(f"issuer: {issuer.issuer}  JWKS {issuer.jwks_url}  keys in {args.dir}", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()


if __name__ == "__main__":
    main()
