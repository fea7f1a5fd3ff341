"""The tamper-evident log: every card issue, return, void, drop, count entry and sign-off is a
record carrying the hash of the one before, so an edited, inserted or deleted record breaks the
chain, and the verification names where. Pure: the hash is SHA-256 over canonical JSON."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64


def stored_instant(at: datetime) -> datetime:
    """``at`` as a database keeps it (UTC, milliseconds), so a record read back hashes the same."""
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def _digest(seq: int, kind: str, subject: str, data: dict[str, Any], at: datetime, prev: str) -> str:
    body = json.dumps({"seq": seq, "kind": kind, "subject": subject, "data": data,
                       "at": stored_instant(at).isoformat(),
                       "prev": prev}, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True)
class ChainRecord:
    seq: int
    kind: str  # card.issued, card.returned, card.voided, card.dropped, box.counted, box.signed
    subject: str  # a serial, a range "first..last", a month
    data: dict[str, Any]
    at: datetime
    prev: str
    hash: str

    @classmethod
    def after(cls, head: tuple[int, str], kind: str, subject: str, data: dict[str, Any], at: datetime) -> ChainRecord:
        seq, prev, at = head[0] + 1, head[1], stored_instant(at)
        return cls(seq, kind, subject, data, at, prev, _digest(seq, kind, subject, data, at, prev))

    def recomputed(self) -> str:
        return _digest(self.seq, self.kind, self.subject, self.data, self.at, self.prev)


def extend(head: tuple[int, str], entries: Iterable[tuple[str, str, dict[str, Any]]], at: datetime) -> list[ChainRecord]:
    """Records for ``(kind, subject, data)`` entries, appended after ``head`` = (seq, hash)."""
    out: list[ChainRecord] = []
    for kind, subject, data in entries:
        rec = ChainRecord.after(head, kind, subject, data, at)
        out.append(rec)
        head = (rec.seq, rec.hash)
    return out


@dataclass(frozen=True)
class Verification:
    ok: bool
    checked: int
    head: str
    broken_seq: int | None = None
    broken_subject: str | None = None
    reason: str | None = None


def verify(records: Iterable[ChainRecord], *, expected_head: tuple[int, str] | None = None) -> Verification:
    """Recompute the chain in order: each record's hash, its link to the one before, and no
    gap in the numbering (a deleted record); then that the last is the recorded head."""
    prev, seq, n = GENESIS, 0, 0
    for rec in records:
        n += 1
        if rec.seq != seq + 1:
            return Verification(False, n, prev, seq + 1, None, f"record {seq + 1} is missing (deleted)")
        if rec.prev != prev:
            return Verification(False, n, prev, rec.seq, rec.subject, "it does not link to the record before")
        if rec.recomputed() != rec.hash:
            return Verification(False, n, prev, rec.seq, rec.subject, "its content was changed after it was written")
        prev, seq = rec.hash, rec.seq
    if expected_head is not None and (seq, prev) != expected_head:
        return Verification(False, n, prev, seq + 1, None,
                            f"the chain ends at record {seq} but its recorded head is record {expected_head[0]}")
    return Verification(True, n, prev)


def card_states(records: Iterable[ChainRecord]) -> dict[str, dict[str, Any]]:
    """Each card's state as the chain tells it (serial → window, staff, day, status, slot)."""
    cards: dict[str, dict[str, Any]] = {}
    for rec in records:
        if rec.kind == "card.issued":
            for serial in rec.data["serials"]:
                cards[serial] = {"window_id": rec.data["window_id"], "staff_id": rec.data["staff_id"],
                                 "day": rec.data["day"], "status": "issued", "slot": None}
        elif rec.kind in {"card.dropped", "card.returned", "card.voided"}:
            status = {"card.dropped": "used", "card.returned": "returned", "card.voided": "void"}[rec.kind]
            for serial in rec.data["serials"]:
                if serial in cards:
                    cards[serial] = {**cards[serial], "status": status, "slot": rec.data.get("slot")}
    return cards
