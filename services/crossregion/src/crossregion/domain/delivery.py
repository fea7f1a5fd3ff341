"""Outbound exchanges: retried with exponential backoff until delivered (nothing is dropped:
a partner that is down gets the backlog once it is back). Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Backoff:
    """The wait after failed attempt ``n`` is drawn from ``[c/2, c)``, ``c = min(cap, base * 2**(n-1))``."""

    base_seconds: float = 1.0
    cap_seconds: float = 300.0

    def after(self, attempts: int, rand: float) -> timedelta:
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** max(attempts - 1, 0))
        return timedelta(seconds=ceiling / 2 + ceiling / 2 * min(max(rand, 0.0), 1.0))


@dataclass
class Outgoing:
    """One exchange to deliver to a partner region, written with the change that caused it."""

    exchange_id: str
    region: str
    reference: str
    kind: str
    body: str  # the JSON sent (signed afresh at each attempt: new nonce, new created time)
    created_at: datetime
    due_at: datetime
    attempts: int = 0
    status: str = "pending"  # pending | delivered
    last_error: str | None = None
    delivered_at: datetime | None = None

    def delivered(self, now: datetime) -> None:
        self.status, self.delivered_at, self.last_error = "delivered", now, None
        self.attempts += 1

    def failed(self, now: datetime, error: str, backoff: Backoff, rand: float) -> None:
        self.attempts += 1
        self.last_error = error
        self.due_at = now + backoff.after(self.attempts, rand)

    def postponed(self, now: datetime, until: datetime) -> None:
        """Not attempted: an earlier exchange to the same region failed in this pass (order kept)."""
        self.due_at = max(until, now)


@dataclass(frozen=True)
class Backlog:
    pending: int
    oldest_created_at: datetime | None
    by_region: dict[str, int]

    def oldest_age_seconds(self, now: datetime) -> float:
        return 0.0 if self.oldest_created_at is None else max((now - self.oldest_created_at).total_seconds(), 0.0)
