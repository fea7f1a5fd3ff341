"""A case's events back in the order they happened (their ``case_seq``, per producer).

Notifications reads many topics with no order between them, so a case's "completed" can
arrive before its "tax approved". Each case event carries its number in the case's
sequence at its producer; the case file remembers, per producer, the last number handled.
An event that arrives ahead of a missing predecessor is *parked* in the case file for at
most the hold time; when the predecessor arrives the parked events follow it in order;
when the hold runs out they are handled anyway, in order, and the gap is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

MAX_PARKED = 50  # per case: beyond this an event is handled at once (and the gap recorded)
MAX_GAPS = 20  # the latest gaps kept in the case file


@dataclass(frozen=True)
class Parked:
    """An event that arrived before a predecessor: kept (as JSON) until ``until`` at most."""

    source: str
    seq: int
    ce_type: str
    payload: dict[str, Any]
    until: datetime


@dataclass(frozen=True)
class Gap:
    """Numbers ``first``..``last`` of ``source`` had not arrived when their successor was handled."""

    source: str
    first: int
    last: int
    at: datetime


class Sequencer:
    """The ordering state of one case (a part of its case file)."""

    def __init__(self, seqs: dict[str, int] | None = None, parked: list[Parked] | None = None,
                 gaps: list[Gap] | None = None) -> None:
        self.seqs = dict(seqs or {})
        self.parked = sorted(parked or [], key=lambda p: (p.source, p.seq))
        self.gaps = list(gaps or [])

    @property
    def hold_until(self) -> datetime | None:
        """When the first hold runs out (None: nothing parked)."""
        return min((p.until for p in self.parked), default=None)

    def arrive(self, source: str, seq: int | None, now: datetime) -> bool:
        """An event numbered ``seq`` arrived: True to handle it now (in order, unnumbered, or
        late after its gap was given up), False to park it (:meth:`park`)."""
        if seq is None:
            return True
        last = self.seqs.get(source, 0)
        if seq <= last:
            return True  # late: its successors went on without it
        if seq == last + 1:
            self.seqs[source] = seq
            return True
        if len(self.parked) >= MAX_PARKED:
            self._advance(source, seq, now)
            return True
        return False

    def park(self, source: str, seq: int, ce_type: str, payload: dict[str, Any], now: datetime,
             hold: timedelta) -> None:
        self.parked.append(Parked(source, seq, ce_type, payload, now + hold))
        self.parked.sort(key=lambda p: (p.source, p.seq))

    def next_ready(self, now: datetime) -> Parked | None:
        """The next parked event to handle now, taken out: one whose predecessor has been
        handled, else the first of a producer one of whose holds ran out (its gap recorded)."""
        for p in self.parked:
            if p.seq <= self.seqs.get(p.source, 0) + 1:
                return self._take(p, now)
        expired = {p.source for p in self.parked if p.until <= now}
        for p in self.parked:  # sorted: the first of its producer
            if p.source in expired:
                return self._take(p, now)
        return None

    def _take(self, p: Parked, now: datetime) -> Parked:
        self.parked.remove(p)
        self._advance(p.source, p.seq, now)
        return p

    def _advance(self, source: str, seq: int, now: datetime) -> None:
        last = self.seqs.get(source, 0)
        if seq > last + 1:
            self.gaps = [*self.gaps, Gap(source, last + 1, seq - 1, now)][-MAX_GAPS:]
        self.seqs[source] = max(last, seq)


__all__ = ["MAX_PARKED", "Gap", "Parked", "Sequencer"]
