"""The facts the ratings aggregates record (field names: those of the contract events)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from servicekit.aggregate import DomainEvent


@dataclass(frozen=True, kw_only=True)
class RatingInvited(DomainEvent):
    applicant_id: str
    matter: str
    rating_url: str
    expires_at: datetime
    window_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class RatingRecorded(DomainEvent):
    level: str
    bad: bool
    channel: str
    indicators: dict[str, int]
    window_id: str | None
    staff_id: str | None
    department: str | None
    matter: str
    rated_at: datetime


@dataclass(frozen=True, kw_only=True)
class RatingAnnulled(DomainEvent):
    reason: str
    reviewer_id: str
    entry_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class LedgerEntryOpened(DomainEvent):
    entry_id: str
    kind: str
    owner_id: str
    applicant_id: str | None
    department: str | None
    window_id: str | None
    callback_due_at: datetime


@dataclass(frozen=True, kw_only=True)
class CallbackRecorded(DomainEvent):
    entry_id: str
    owner_id: str
    reasonable: bool
    feedback_due_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class RectificationFeedbackGiven(DomainEvent):
    entry_id: str
    applicant_id: str | None
    feedback: str
    within_time_limit: bool


@dataclass(frozen=True, kw_only=True)
class ExplanationGiven(DomainEvent):
    entry_id: str
    applicant_id: str | None
    explanation: str


@dataclass(frozen=True, kw_only=True)
class RectificationDueWarning(DomainEvent):
    entry_id: str
    owner_id: str
    due_at: datetime


@dataclass(frozen=True, kw_only=True)
class RectificationOverdue(DomainEvent):
    entry_id: str
    owner_id: str
    department: str | None
    due_at: datetime


@dataclass(frozen=True, kw_only=True)
class CardDayMismatch(DomainEvent):
    day: str
    window_id: str
    issued: int
    used: int
    returned: int
    void: int
    missing: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class MonthFinalised(DomainEvent):
    month: str
    online: int
    paper: int
    chain_head: str
    signed_by: list[str]


@dataclass(frozen=True, kw_only=True)
class RequestSubmitted(DomainEvent):
    kind: str
    person_id: str
    department: str
    due_at: datetime


@dataclass(frozen=True, kw_only=True)
class RequestReplied(DomainEvent):
    kind: str
    person_id: str
    department: str
    reply: str
    within_time_limit: bool
