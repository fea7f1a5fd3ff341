"""Messages and their delivery lifecycle.

::

    accepted ──claim──▶ sending ──ok──▶ delivered
       │                  │ ▲
       │                  │ └─ transient failure: retry after backoff (same or next provider)
       │                  ├──── rejected, or attempts exhausted ──▶ failed
       └──────────────────┴──── not delivered by expires_at ──────▶ expired

``due_at`` is when the dispatcher should next look at the message (the end of quiet
hours, the next retry, or the end of a claim); it is None once the message is final.
A message that ends failed or expired records a :class:`MessageDeliveryFailed` fact (the
service publishes it as the MessageDeliveryFailedV1 alert).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from notifications.domain.errors import InvalidTransition
from servicekit.aggregate import Aggregate, DomainEvent

_IDS = uuid.UUID("6f1c1a52-6c1e-4a7e-9a55-0e0f5b1d7a01")


class MessageStatus(StrEnum):
    ACCEPTED = "accepted"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"
    EXPIRED = "expired"


FINAL = frozenset({MessageStatus.DELIVERED, MessageStatus.FAILED, MessageStatus.EXPIRED})
_ALLOWED = {
    MessageStatus.ACCEPTED: frozenset({MessageStatus.SENDING, MessageStatus.FAILED, MessageStatus.EXPIRED}),
    MessageStatus.SENDING: frozenset({MessageStatus.SENDING, MessageStatus.DELIVERED, MessageStatus.FAILED,
                                      MessageStatus.EXPIRED}),
}


class Claim(StrEnum):
    """What saving a message (or webhook delivery) that a dispatcher pass claimed came to.
    A lost claim is not a version conflict: the claim ran out and another pass took the
    item over (or it was cancelled meanwhile), so this pass's outcome is dropped."""

    KEPT = "kept"  # saved: the claim was still this pass's
    LOST = "lost"  # nothing written: the item is no longer this pass's


class ProviderError(Exception):
    """A provider did not take a message. ``permanent``: retrying cannot help (e.g. the
    number does not exist); otherwise the next attempt may go to another provider."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, and failover between a channel's providers.

    The wait after failed attempt ``n`` is drawn from ``[c/2, c)`` with
    ``c = min(cap, base * 2**(n-1))`` ("equal jitter": never less than half the
    exponential step, so retries spread out without collapsing to zero). Attempts go to
    the channel's providers in turn, ``attempts_per_provider`` each, then round again."""

    max_attempts: int = 6
    base_seconds: float = 2.0
    cap_seconds: float = 300.0
    attempts_per_provider: int = 2
    claim_seconds: float = 60.0  # an attempt not recorded by then (a crash) is retried

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.attempts_per_provider < 1:
            raise ValueError("max_attempts and attempts_per_provider must be at least 1")
        if self.base_seconds <= 0 or self.cap_seconds < self.base_seconds:
            raise ValueError("need 0 < base_seconds <= cap_seconds")

    def backoff(self, attempt: int, rand: float) -> timedelta:
        """Wait after failed attempt ``attempt`` (1-based); ``rand`` uniform in [0, 1)."""
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** (attempt - 1))
        return timedelta(seconds=ceiling / 2 + ceiling / 2 * rand)

    def provider_for(self, attempt: int, providers: Sequence[str]) -> str:
        if not providers:
            raise ValueError("no provider")
        return providers[((attempt - 1) // self.attempts_per_provider) % len(providers)]


def message_id_for(event_id: str, recipient_id: str, channel: str) -> str:
    """Deterministic: the same event, recipient and channel always give the same id."""
    return "msg-" + uuid.uuid5(_IDS, f"{event_id}|{recipient_id}|{channel}").hex


@dataclass(frozen=True, kw_only=True)
class MessageDeliveryFailed(DomainEvent):
    """A message ended undelivered (failed or expired)."""

    message_id: str
    recipient_id: str
    channel: str
    template: str
    status: str
    attempts: int
    last_error: str | None
    source_event_id: str


@dataclass(frozen=True)
class StatusChange:
    at: datetime
    status: MessageStatus
    note: str = ""


@dataclass
class Message(Aggregate):
    message_id: str
    case_number: str
    recipient_id: str
    channel: str
    address: str
    template: str
    title: str
    text: str
    created_at: datetime
    source_event_id: str
    expires_at: datetime
    due_at: datetime | None
    trace_id: str | None = None
    urgent: bool = False
    status: MessageStatus = MessageStatus.ACCEPTED
    attempts: int = 0
    provider: str | None = None
    provider_ref: str | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None
    history: list[StatusChange] = field(default_factory=list)
    case_seq: int | None = None  # its event's number in the case's sequence: the order to send in

    @classmethod
    def accept(cls, *, event_id: str, case_number: str, recipient_id: str, channel: str, address: str,
               template: str, title: str, text: str, urgent: bool, now: datetime, not_before: datetime,
               ttl: timedelta, trace_id: str | None, case_seq: int | None = None) -> Message:
        note = "" if not_before <= now else f"quiet hours: waits until {not_before.isoformat()}"
        return cls(message_id_for(event_id, recipient_id, channel), case_number, recipient_id, channel, address,
                   template, title, text, now, event_id, expires_at=not_before + ttl, due_at=not_before,
                   trace_id=trace_id, urgent=urgent, history=[StatusChange(now, MessageStatus.ACCEPTED, note)],
                   case_seq=case_seq)

    @property
    def final(self) -> bool:
        return self.status in FINAL

    def is_due(self, now: datetime) -> bool:
        return not self.final and self.due_at is not None and self.due_at <= now

    def start_attempt(self, now: datetime, policy: RetryPolicy, providers: Sequence[str]) -> str | None:
        """Claim the message for one attempt: the provider to use, or None when it just
        expired (or has no provider at all, and failed)."""
        if now >= self.expires_at:
            self._move(MessageStatus.EXPIRED, now, "not delivered before it expired")
            return None
        if not providers:
            self.last_error = f"no provider for the {self.channel} channel"
            self._move(MessageStatus.FAILED, now, self.last_error)
            return None
        self.attempts += 1
        self.provider = policy.provider_for(self.attempts, providers)
        self._move(MessageStatus.SENDING, now, f"attempt {self.attempts} via {self.provider}")
        self.due_at = now + timedelta(seconds=policy.claim_seconds)
        return self.provider

    def delivered(self, now: datetime, provider_ref: str | None) -> None:
        self.provider_ref, self.delivered_at = provider_ref, now
        self._move(MessageStatus.DELIVERED, now, f"delivered by {self.provider}")

    def attempt_failed(self, now: datetime, error: str, *, permanent: bool, policy: RetryPolicy,
                       rand: float) -> None:
        """Record a failed attempt: retry after a backoff, or fail for good."""
        self.last_error = error[:500]
        if permanent or self.attempts >= policy.max_attempts:
            why = "rejected" if permanent else f"{self.attempts} attempts failed"
            self._move(MessageStatus.FAILED, now, f"{why}: {self.last_error}")
            return
        retry_at = min(now + policy.backoff(self.attempts, rand), self.expires_at)
        self._move(MessageStatus.SENDING, now, f"{self.provider}: {self.last_error}; retry at {retry_at.isoformat()}")
        self.due_at = retry_at

    def _move(self, status: MessageStatus, now: datetime, note: str) -> None:
        if status not in _ALLOWED.get(self.status, frozenset()):
            raise InvalidTransition(f"message {self.message_id}: {self.status} -> {status} is not allowed")
        self.status = status
        self.history.append(StatusChange(now, status, note))
        if status in FINAL:
            self.due_at = None
        if status in (MessageStatus.FAILED, MessageStatus.EXPIRED):
            self.record(MessageDeliveryFailed(
                message_id=self.message_id, recipient_id=self.recipient_id, channel=self.channel,
                template=self.template, status=status.value, attempts=self.attempts, last_error=self.last_error,
                source_event_id=self.source_event_id))
