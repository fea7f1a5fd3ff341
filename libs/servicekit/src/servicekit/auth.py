"""Bearer authentication with roles (the principal itself is :mod:`servicekit.principal`).

Tokens are signed by an identity provider with an asymmetric key (ES256; RS256 etc. if
configured) and verified here against the provider's published keys (JWKS, fetched over
HTTP, cached, fetched again for an unknown ``kid``), so no service can mint a token.
Checked: the signature, ``alg`` from the allow-list (never ``none`` or HS*), ``iss``,
``aud``, ``exp`` (required), ``iat`` (required, not in the future), ``nbf``, the lifetime
(``exp - iat`` at most ``jwt_max_lifetime_seconds``), with ``jwt_leeway_seconds`` of skew.
How to point it at an OIDC provider: docs/identity-provider.md.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from servicekit.config import ServiceSettings
from servicekit.principal import STAFF_ROLES, Principal, Role
from servicekit.problems import Problem

__all__ = ["STAFF_ROLES", "JwksKeys", "Principal", "Role", "TokenVerifier", "allowed_algorithms",
           "current_principal", "require"]

log = logging.getLogger(__name__)

_REFUSED_ALGS = {"none", "HS256", "HS384", "HS512"}


def allowed_algorithms(setting: str) -> frozenset[str]:
    """The ``jwt_algorithms`` setting as a set; refuses ``none``, HS* and unknown names (a
    shared secret would let every verifier mint tokens)."""
    algs = frozenset(a.strip() for a in setting.split(",") if a.strip())
    known = set(jwt.algorithms.get_default_algorithms())
    bad = {a for a in algs if a in _REFUSED_ALGS or a.upper().startswith("HS") or a not in known}
    if not algs or bad:
        raise ValueError(f"jwt_algorithms must name asymmetric algorithms only (e.g. ES256, RS256), not {sorted(bad)}")
    return algs


class KeysUnavailable(Exception):
    """The issuer's keys could not be fetched."""


class JwksKeys:
    """The issuer's public keys by ``kid``: fetched when first needed, again after
    ``cache_seconds``, and again (at most every ``refetch_seconds``) when a token names a
    ``kid`` not among them (the issuer rotated its key). Concurrent fetches are one fetch."""

    def __init__(self, jwks_url: str, issuer: str = "", *, cache_seconds: float = 300.0,
                 refetch_seconds: float = 30.0, timeout: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.jwks_url, self.issuer = jwks_url, issuer
        self.cache_seconds, self.refetch_seconds, self.timeout, self.clock = cache_seconds, refetch_seconds, timeout, clock
        self.keys: dict[str | None, jwt.PyJWK] = {}
        self.fetched_at: float | None = None
        self.fetches = 0
        self._failed_at: float | None = None
        self._lock = asyncio.Lock()

    async def _get_json(self, client: httpx.AsyncClient, url: str) -> Any:
        resp = await client.get(url, headers={"Accept": "application/json"})
        resp.raise_for_status()
        return resp.json()

    async def _fetch(self) -> None:
        async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as client:
            url = self.jwks_url
            if not url:  # OIDC discovery
                meta = await self._get_json(client, self.issuer.rstrip("/") + "/.well-known/openid-configuration")
                url = meta["jwks_uri"]
            data = await self._get_json(client, url)
        keys: dict[str | None, jwt.PyJWK] = {}
        for entry in data.get("keys", []):
            if entry.get("use", "sig") != "sig" or entry.get("kty") == "oct":
                continue  # encryption keys and shared secrets are never verification keys
            try:
                keys[entry.get("kid")] = jwt.PyJWK(entry)
            except jwt.PyJWTError as exc:  # an unsupported key type: skip it, keep the others
                log.warning("JWKS key %s skipped: %s", entry.get("kid"), exc)
        self.keys, self.fetched_at = keys, self.clock()
        self.fetches += 1
        log.info("JWKS fetched from %s: %d key(s)", url, len(keys))

    async def refresh(self, *, unknown_kid: bool = False) -> None:
        started = self.clock()
        async with self._lock:
            if self.fetched_at is not None and self.fetched_at >= started:
                return  # another request fetched while this one waited
            age = None if self.fetched_at is None else self.clock() - self.fetched_at
            if age is not None and age < (self.refetch_seconds if unknown_kid else self.cache_seconds):
                return
            if not self.keys and self._failed_at is not None and self.clock() - self._failed_at < 1.0:
                raise KeysUnavailable("the last fetch failed less than a second ago")
            try:
                await self._fetch()
            except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError) as exc:
                log.warning("JWKS fetch failed: %s", exc)
                self._failed_at = self.clock()
                if not self.keys:
                    raise KeysUnavailable(str(exc)) from exc
                self.fetched_at = self.clock()  # keep the cached keys; try again later

    async def get(self, kid: str | None) -> jwt.PyJWK | None:
        if self.fetched_at is None or self.clock() - self.fetched_at >= self.cache_seconds:
            await self.refresh()
        if kid not in self.keys and (kid is not None or len(self.keys) != 1):
            await self.refresh(unknown_kid=True)
        if kid is None and len(self.keys) == 1:  # a single key may be used without naming it
            return next(iter(self.keys.values()))
        return self.keys.get(kid)


def _claim(claims: dict[str, Any], path: str) -> Any:
    value: Any = claims
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


class TokenVerifier:
    """Turns a bearer token into a :class:`Principal`, or raises a 401 :class:`Problem`."""

    def __init__(self, settings: ServiceSettings, keys: JwksKeys | None = None) -> None:
        self.settings = settings
        self.algorithms = allowed_algorithms(settings.jwt_algorithms)
        self.keys = keys or JwksKeys(settings.jwt_jwks_url, settings.jwt_issuer,
                                     cache_seconds=settings.jwt_jwks_cache_seconds,
                                     refetch_seconds=settings.jwt_jwks_refetch_seconds)

    @staticmethod
    def _refuse(detail: str) -> Problem:
        return Problem(401, "Unauthorized", f"invalid token: {detail}", headers={"WWW-Authenticate": "Bearer"})

    async def verify(self, token: str) -> Principal:
        s = self.settings
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise self._refuse(str(exc)) from exc
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in self.algorithms:
            raise self._refuse(f"algorithm {alg!r} is not accepted")
        if kid is not None and not isinstance(kid, str):
            raise self._refuse("kid must be a string")
        try:
            key = await self.keys.get(kid)
        except KeysUnavailable as exc:
            raise Problem(503, "Service Unavailable", "the token issuer's keys cannot be fetched",
                          headers={"Retry-After": "5"}) from exc
        if key is None:
            raise self._refuse(f"unknown signing key {kid!r}")
        if key.algorithm_name != alg:
            raise self._refuse(f"key {kid!r} is not a {alg} key")
        try:
            claims = jwt.decode(token, key, algorithms=[alg], audience=s.jwt_audience, issuer=s.jwt_issuer,
                                leeway=s.jwt_leeway_seconds,
                                options={"require": ["iss", "aud", "sub", "exp", "iat"]})
        except jwt.PyJWTError as exc:
            raise self._refuse(str(exc)) from exc
        if claims["exp"] - claims["iat"] > s.jwt_max_lifetime_seconds:
            raise self._refuse(f"lifetime over {s.jwt_max_lifetime_seconds:.0f} s")
        return self.principal(claims)

    def principal(self, claims: dict[str, Any]) -> Principal:
        s = self.settings
        try:
            role = Role(_claim(claims, s.jwt_role_claim))
        except ValueError as exc:
            raise self._refuse(f"no known role in claim {s.jwt_role_claim!r}") from exc
        department, agency_id, name = (_claim(claims, c) for c in
                                       (s.jwt_department_claim, s.jwt_agency_claim, s.jwt_name_claim))
        if not isinstance(claims["sub"], str) or not claims["sub"]:
            raise self._refuse("sub must be a non-empty string")
        for value in (department, agency_id, name):
            if value is not None and not isinstance(value, str):
                raise self._refuse("department, agency_id and name must be strings")
        if role is Role.REVIEWER and not department:
            raise Problem(401, "Unauthorized", "a reviewer token must name its department")
        if role is Role.PARTNER_AGENCY and not agency_id:
            raise Problem(401, "Unauthorized", "a partner agency token must name its agency_id")
        return Principal(claims["sub"], role, department, agency_id, name)


_bearer = HTTPBearer(auto_error=False)


async def current_principal(
    request: Request, creds: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> Principal:
    if creds is None:
        raise Problem(401, "Unauthorized", "a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    verifier: TokenVerifier = request.app.state.token_verifier
    return await verifier.verify(creds.credentials)


def require(*roles: Role) -> Callable[..., object]:
    """Dependency: the caller must hold one of ``roles``."""
    allowed = frozenset(roles)

    async def _dep(principal: Principal = Depends(current_principal)) -> Principal:
        if principal.role not in allowed:
            raise Problem(403, "Forbidden", f"role {principal.role.value} may not do this")
        return principal

    _dep.roles = allowed  # type: ignore[attr-defined]  # read by servicekit.openapi (403 documented)
    _dep.everyone = allowed == frozenset(Role)  # type: ignore[attr-defined]
    return _dep
