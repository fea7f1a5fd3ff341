"""One way for tests to authenticate: a bearer header for a principal, signed by the test issuer.

The test issuer (``devstack.issuer.LocalIssuer``: an ES256 key pair in a temporary folder,
its JWKS served from a thread on loopback) is made once per test run; ``tests/conftest.py``
puts its ``JWT_ISSUER`` / ``JWT_JWKS_URL`` in the environment, so the in-process apps and
the e2e service processes trust it as the platform trusts its identity provider.
"""

from __future__ import annotations

import functools
import tempfile
from datetime import UTC, datetime, timedelta

from devstack.issuer import LocalIssuer
from servicekit.auth import Principal, Role
from servicekit.config import ServiceSettings


@functools.cache
def token_issuer() -> LocalIssuer:
    """The run's issuer, serving its JWKS (started at first use)."""
    issuer = LocalIssuer(tempfile.mkdtemp(prefix="ow-issuer-"), "http://127.0.0.1")
    issuer.ensure().serve_in_thread()
    return issuer


def sign(principal: Principal, *, settings: ServiceSettings | None = None,
         ttl: timedelta = timedelta(hours=1)) -> str:
    s = settings or ServiceSettings()
    return token_issuer().token(sub=principal.sub, role=principal.role.value, audience=s.jwt_audience, ttl=ttl,
                               department=principal.department, agency_id=principal.agency_id,
                               name=principal.name)


def bearer(sub: str, role: Role = Role.APPLICANT, *, settings: ServiceSettings | None = None,
           **claims: str) -> dict[str, str]:
    """``Authorization`` header of a token for ``sub`` in ``role`` (``department=``,
    ``agency_id=`` ...), signed by the test issuer for ``settings``' audience."""
    return {"Authorization": f"Bearer {sign(Principal(sub, role, **claims), settings=settings)}"}


def expired_bearer(sub: str, role: Role = Role.APPLICANT, *, settings: ServiceSettings | None = None,
                   **claims: str) -> dict[str, str]:
    """A token of the test issuer that expired an hour ago (issued two hours ago)."""
    s = settings or ServiceSettings()
    token = token_issuer().token(sub=sub, role=role.value, audience=s.jwt_audience, ttl=timedelta(hours=1),
                                 now=datetime.now(UTC) - timedelta(hours=2), **claims)
    return {"Authorization": f"Bearer {token}"}


def foreign_issuer_bearer(sub: str, role: Role = Role.APPLICANT, *, settings: ServiceSettings | None = None,
                          issuer: str = "https://evil.example", **claims: str) -> dict[str, str]:
    """A token signed with the test issuer's key but naming another issuer (``iss``)."""
    s = settings or ServiceSettings()
    now = int(datetime.now(UTC).timestamp())
    token = token_issuer().sign({"iss": issuer, "aud": s.jwt_audience, "sub": sub, "role": role.value,
                                 "iat": now, "exp": now + 3600, **claims})
    return {"Authorization": f"Bearer {token}"}
