"""One way for tests to authenticate: a bearer header for a principal."""

from __future__ import annotations

from servicekit.auth import Principal, Role, TokenCodec
from servicekit.config import ServiceSettings


def bearer(sub: str, role: Role = Role.APPLICANT, *, settings: ServiceSettings | None = None,
           **claims: str) -> dict[str, str]:
    """``Authorization`` header of a token for ``sub`` in ``role`` (``department=``,
    ``agency_id=`` ...), signed as ``settings`` (default: the development settings) verify."""
    s = settings or ServiceSettings()
    return {"Authorization": f"Bearer {TokenCodec(s.jwt_secret, s.jwt_audience).issue(Principal(sub, role, **claims))}"}
