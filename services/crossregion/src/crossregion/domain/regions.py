"""Partner regions (合作地区): who we exchange cases with, where, with which keys, for what.

A region is known by its administrative division code (GB/T 2260), checked against the
code list of any year (``contracts.codes``, shared with registration and approvals). Its public keys (Ed25519, raw 32 bytes in
base64) have key ids; during a rotation two keys are valid: the new one, and the previous
one until the end of the agreed overlap. After that the previous key is refused."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import datetime

from contracts.codes import division_problem
from crossregion.domain.errors import DomainError, InvalidState, NotAgreed

MODES = ("online", "proxy", "joint")
MATTERS = ("licence_change", "company_establishment")
MAX_VALID_KEYS = 2


def public_key_problem(text: str) -> str | None:
    """Why ``text`` is not an Ed25519 public key (32 bytes, base64), or None."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return "not base64"
    return None if len(raw) == 32 else f"an Ed25519 public key is 32 bytes, not {len(raw)}"


@dataclass
class RegionKey:
    key_id: str
    public_key: str  # base64 of the raw 32 bytes
    added_at: datetime
    valid_until: datetime | None = None  # set when a newer key replaced it: the overlap's end

    def valid_at(self, now: datetime) -> bool:
        return self.valid_until is None or now < self.valid_until


@dataclass
class PartnerRegion:
    division_code: str
    name: str
    endpoint: str  # where their exchange endpoint is (checked by the outbound policy)
    keys: list[RegionKey]
    matters: list[str]
    modes: list[str]
    our_key_id: str = ""  # the key of ours they were given (the one we sign with for them)
    created_at: datetime | None = None
    history: list[str] = field(default_factory=list)

    @classmethod
    def register(cls, *, division_code: str, name: str, endpoint: str, key_id: str, public_key: str,
                 matters: list[str], modes: list[str], our_key_id: str, now: datetime) -> PartnerRegion:
        if (why := division_problem(division_code)) is not None:
            raise DomainError(why, field="division_code", rule="division_code")
        if (why := public_key_problem(public_key)) is not None:
            raise DomainError(why, field="public_key")
        for i, m in enumerate(matters):
            if m not in MATTERS:
                raise DomainError(f"unknown matter {m!r}", field=f"matters.{i}")
        for i, m in enumerate(modes):
            if m not in MODES:
                raise DomainError(f"unknown mode {m!r}", field=f"modes.{i}")
        return cls(division_code=division_code, name=name, endpoint=endpoint,
                   keys=[RegionKey(key_id, public_key, now)], matters=sorted(set(matters)),
                   modes=sorted(set(modes)), our_key_id=our_key_id, created_at=now)

    def update(self, *, name: str, endpoint: str, matters: list[str], modes: list[str], our_key_id: str) -> None:
        self.name, self.endpoint, self.our_key_id = name, endpoint, our_key_id
        self.matters, self.modes = sorted(set(matters)), sorted(set(modes))

    # -- keys -------------------------------------------------------------------------------
    def rotate(self, *, key_id: str, public_key: str, overlap_until: datetime, now: datetime) -> bool:
        """Their new key; the keys valid until now stay valid until ``overlap_until``. At most
        two keys are valid at once. False if this key is already theirs (a retry)."""
        if any(k.key_id == key_id and k.public_key == public_key for k in self.keys):
            return False
        if any(k.key_id == key_id for k in self.keys):
            raise InvalidState(f"key id {key_id!r} is taken by another key", field="key_id")
        if (why := public_key_problem(public_key)) is not None:
            raise DomainError(why, field="public_key")
        if overlap_until <= now:
            raise DomainError("the overlap must end in the future", field="overlap_until", rule="range_order")
        for key in self.valid_keys(now):
            key.valid_until = min(key.valid_until or overlap_until, overlap_until)
        self.keys.append(RegionKey(key_id, public_key, now))
        if len(self.valid_keys(now)) > MAX_VALID_KEYS:  # a rotation during a rotation: the oldest goes now
            oldest = self.valid_keys(now)[0]
            oldest.valid_until = now
        self.history.append(f"{now.isoformat()} key {key_id} added, previous valid until {overlap_until.isoformat()}")
        return True

    def valid_keys(self, now: datetime) -> list[RegionKey]:
        return [k for k in self.keys if k.valid_at(now)]

    def key(self, key_id: str, now: datetime) -> RegionKey | None:
        """Their key ``key_id`` if it is valid at ``now``."""
        return next((k for k in self.keys if k.key_id == key_id and k.valid_at(now)), None)

    # -- agreements -----------------------------------------------------------------------------
    def check_agreed(self, matter: str, mode: str) -> None:
        if matter not in self.matters:
            raise NotAgreed(f"{self.name} ({self.division_code}) has not agreed to handle {matter}", field="matter")
        if mode not in self.modes:
            raise NotAgreed(f"{self.name} ({self.division_code}) has not agreed to the mode {mode}", field="mode")
