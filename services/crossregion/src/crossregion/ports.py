"""What the use cases depend on: the repositories of one unit of work (declared once), the
exchange's signer, verifier and sender (adapters: repository.py, signatures.py, exchange_http.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from crossregion.domain import Backlog, CrossCase, Outgoing, PartnerRegion


class RegionRepository(Protocol):
    async def get(self, division_code: str) -> PartnerRegion:
        """The region; raises NotFound."""

    async def find(self, division_code: str) -> PartnerRegion | None: ...
    async def by_key_id(self, key_id: str) -> PartnerRegion | None: ...
    async def list(self) -> list[PartnerRegion]: ...
    async def save(self, region: PartnerRegion) -> None: ...


class CaseRepository(Protocol):
    async def add(self, case: CrossCase) -> None:
        """Insert; raises InvalidState when the reference exists."""

    async def get(self, reference: str) -> CrossCase:
        """The case; raises NotFound."""

    async def find(self, reference: str) -> CrossCase | None: ...

    async def save(self, case: CrossCase) -> None:
        """Replace if the version is unchanged, and bump it; raises ConcurrentUpdate otherwise."""


class OutgoingRepository(Protocol):
    async def add(self, item: Outgoing) -> None: ...
    async def claim_due(self, now: datetime, until: datetime, token: str, limit: int) -> list[Outgoing]: ...
    async def save_claimed(self, item: Outgoing, token: str) -> bool: ...
    async def backlog(self) -> Backlog: ...

    async def forget_delivered(self, before: datetime) -> int:
        """Delete the exchanges delivered before ``before``; how many."""


@dataclass(frozen=True)
class ExchangeRecord:
    exchange_id: str
    sender: str
    kind: str
    digest: str
    reference: str
    received_at: datetime


@dataclass(frozen=True)
class AuditRecord:
    at: datetime
    outcome: str  # accepted | duplicate | refused
    status: int
    reason: str
    exchange_id: str | None = None
    sender: str | None = None
    key_id: str | None = None
    remote: str | None = None


class ExchangeRepository(Protocol):
    """Inbound exchanges: their records (idempotency), the nonces seen (replay), the audit trail."""

    async def get(self, exchange_id: str) -> ExchangeRecord | None: ...

    async def add(self, record: ExchangeRecord) -> None:
        """Record it; raises ConcurrentUpdate if it was recorded meanwhile (the use case runs again)."""

    async def use_nonce(self, key_id: str, nonce: str, forget_after: datetime) -> bool:
        """Record a signature nonce; False if it was seen before (a replay)."""

    async def audit(self, record: AuditRecord) -> None: ...
    async def audit_trail(self, limit: int) -> list[AuditRecord]: ...


class Repositories(Protocol):
    @property
    def regions(self) -> RegionRepository: ...

    @property
    def cases(self) -> CaseRepository: ...

    @property
    def outgoing(self) -> OutgoingRepository: ...

    @property
    def exchanges(self) -> ExchangeRepository: ...


class Signer(Protocol):
    def sign(self, *, url: str, body: bytes, now: datetime, expires_in: timedelta,
             key_id: str | None = None, nonce: str | None = None) -> dict[str, str]: ...

    def public_keys(self) -> dict[str, str]: ...


class Verified(Protocol):
    @property
    def key_id(self) -> str: ...

    @property
    def nonce(self) -> str: ...

    @property
    def expires(self) -> datetime: ...


class Verifier(Protocol):
    def verify(self, *, method: str, url: str, headers: Mapping[str, str], body: bytes,
               public: Callable[[str], Any]) -> Verified: ...


class Sender(Protocol):
    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> str | None:
        """Deliver; None when the partner took it (2xx, or 409 for an exchange it has), else why not."""


__all__ = ["AuditRecord", "CaseRepository", "ExchangeRecord", "ExchangeRepository", "OutgoingRepository",
           "RegionRepository", "Repositories", "Sender", "Signer", "Verified", "Verifier"]
