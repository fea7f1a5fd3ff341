"""Development tokens for trying the APIs by hand (``python -m devstack token --role applicant --sub u-1``).

Signed ES256 by the development issuer (``devstack.issuer``: the key pair in
``var/issuer/``, made at first run), with the issuer and audience the platform of
``make run`` trusts. Only a platform that trusts that issuer accepts them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from devstack.issuer import AUDIENCE
from devstack.stack import StackConfig


def make_token(
    *,
    sub: str,
    role: str,
    department: str | None = None,
    agency_id: str | None = None,
    name: str | None = None,
    ttl: timedelta = timedelta(hours=12),
    now: datetime | None = None,
    cfg: StackConfig | None = None,
) -> str:
    """A signed token with ``iss``, ``aud``, ``sub``, ``role``, optional ``department`` /
    ``agency_id`` / ``name``, ``iat``, ``exp``: from the running platform's issuer (or the
    one the environment configures)."""
    cfg = (cfg or StackConfig.from_env()).load_running()
    issuer = cfg.issuer.ensure()
    return issuer.token(sub=sub, role=role, audience=AUDIENCE, ttl=ttl, now=now or datetime.now(UTC),
                        department=department, agency_id=agency_id, name=name)
