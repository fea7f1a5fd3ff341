"""Logged-in users, kept in the console's memory (decision 52).

The browser holds only a random session id in an HttpOnly, SameSite=Lax cookie; the user's
access token stays on the server. A session ends at logout, when its token expires, after
``session_hours``, or when the console restarts (users log in again: the identity provider
usually still has them, so it is one click). Each session has its own CSRF token, which
every form and every htmx request sends back.
"""

from __future__ import annotations

import hmac
import secrets
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from servicekit.principal import Principal

COOKIE = "ow_console"
LOGIN_COOKIE = "ow_console_login"


@dataclass
class Session:
    id: str
    token: str
    principal: Principal
    expires_at: datetime
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    def csrf_ok(self, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(self.csrf, presented or "")


@dataclass(frozen=True)
class PendingLogin:
    """Between the redirect to the identity provider and its answer."""

    state: str
    verifier: str
    next_path: str
    expires_at: datetime


class SessionStore:
    def __init__(self, *, max_sessions: int = 10_000, login_ttl: timedelta = timedelta(minutes=10)) -> None:
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._pending: OrderedDict[str, PendingLogin] = OrderedDict()
        self.max_sessions, self.login_ttl = max_sessions, login_ttl

    # -- logins in progress -------------------------------------------------------------
    def begin_login(self, *, state: str, verifier: str, next_path: str, now: datetime) -> str:
        """A pending login; returns the id its cookie carries."""
        self._expire(now)
        key = secrets.token_urlsafe(32)
        self._pending[key] = PendingLogin(state, verifier, next_path, now + self.login_ttl)
        while len(self._pending) > self.max_sessions:
            self._pending.popitem(last=False)
        return key

    def finish_login(self, key: str | None, state: str | None, now: datetime) -> PendingLogin | None:
        """The pending login of ``key`` if ``state`` is its own and it has not expired (used once)."""
        pending = self._pending.pop(key, None) if key else None
        if pending is None or pending.expires_at <= now or not state:
            return None
        return pending if hmac.compare_digest(pending.state, state) else None

    # -- sessions -------------------------------------------------------------------------
    def create(self, *, token: str, principal: Principal, expires_at: datetime, now: datetime) -> Session:
        self._expire(now)
        session = Session(secrets.token_urlsafe(32), token, principal, expires_at)
        self._sessions[session.id] = session
        while len(self._sessions) > self.max_sessions:
            self._sessions.popitem(last=False)
        return session

    def get(self, session_id: str | None, now: datetime) -> Session | None:
        session = self._sessions.get(session_id) if session_id else None
        if session is None:
            return None
        if session.expires_at <= now:
            self._sessions.pop(session.id, None)
            return None
        return session

    def end(self, session_id: str | None) -> None:
        if session_id:
            self._sessions.pop(session_id, None)

    def _expire(self, now: datetime) -> None:
        for store in (self._sessions, self._pending):
            for key in [k for k, v in store.items() if v.expires_at <= now]:
                store.pop(key, None)
