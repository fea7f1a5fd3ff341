"""Development JWTs for trying the APIs by hand (``python -m devstack token --role applicant --sub u-1``).

Signed HS256 with ``JWT_SECRET`` (the same default the services use), audience
``one-window``. Never use the default secret outside a developer's machine.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import jwt

DEFAULT_SECRET = "one-window-dev-secret-change-me-0123456789"
AUDIENCE = "one-window"
ALGORITHM = "HS256"


def make_token(
    *,
    sub: str,
    role: str,
    department: str | None = None,
    agency_id: str | None = None,
    secret: str | None = None,
    ttl: timedelta = timedelta(hours=12),
    now: datetime | None = None,
) -> str:
    """A signed token with ``sub``, ``role``, optional ``department`` / ``agency_id``, ``aud``, ``iat``, ``exp``."""
    issued = now or datetime.now(UTC)
    claims: dict[str, object] = {
        "sub": sub,
        "role": role,
        "aud": AUDIENCE,
        "iat": int(issued.timestamp()),
        "exp": int((issued + ttl).timestamp()),
    }
    if department:
        claims["department"] = department
    if agency_id:
        claims["agency_id"] = agency_id
    key = secret or os.environ.get("JWT_SECRET") or DEFAULT_SECRET
    return jwt.encode(claims, key, algorithm=ALGORITHM)
