"""JWT bearer authentication with roles (the principal itself is :mod:`servicekit.principal`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from servicekit.principal import STAFF_ROLES, Principal, Role
from servicekit.problems import Problem

__all__ = ["STAFF_ROLES", "Principal", "Role", "TokenCodec", "current_principal", "require"]


class TokenCodec:
    def __init__(self, secret: str, audience: str = "one-window", issuer: str = "one-window") -> None:
        self.secret, self.audience, self.issuer = secret, audience, issuer

    def issue(self, principal: Principal, ttl: timedelta = timedelta(hours=12)) -> str:
        now = datetime.now(UTC)
        claims = {"sub": principal.sub, "role": principal.role.value, "aud": self.audience, "iss": self.issuer,
                  "iat": now, "exp": now + ttl}
        for k in ("department", "agency_id", "name"):
            if getattr(principal, k):
                claims[k] = getattr(principal, k)
        return jwt.encode(claims, self.secret, algorithm="HS256")

    def decode(self, token: str) -> Principal:
        try:
            claims = jwt.decode(token, self.secret, algorithms=["HS256"], audience=self.audience,
                                options={"require": ["sub", "role", "exp"]})
            role = Role(claims["role"])
        except (jwt.PyJWTError, ValueError) as exc:
            raise Problem(401, "Unauthorized", f"invalid token: {exc}") from exc
        if role is Role.REVIEWER and not claims.get("department"):
            raise Problem(401, "Unauthorized", "a reviewer token must name its department")
        if role is Role.PARTNER_AGENCY and not claims.get("agency_id"):
            raise Problem(401, "Unauthorized", "a partner agency token must name its agency_id")
        return Principal(claims["sub"], role, claims.get("department"), claims.get("agency_id"), claims.get("name"))


_bearer = HTTPBearer(auto_error=False)


async def current_principal(
    request: Request, creds: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> Principal:
    if creds is None:
        raise Problem(401, "Unauthorized", "a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    codec: TokenCodec = request.app.state.token_codec
    return codec.decode(creds.credentials)


def require(*roles: Role) -> Callable[..., object]:
    """Dependency: the caller must hold one of ``roles``."""
    allowed = frozenset(roles)

    async def _dep(principal: Principal = Depends(current_principal)) -> Principal:
        if principal.role not in allowed:
            raise Problem(403, "Forbidden", f"role {principal.role.value} may not do this")
        return principal

    return _dep
