"""The facts a case records: one frozen dataclass per kind, named after what happened.

Field names are those of the contract event each one becomes (the service's EventMap
checks them at import); the envelope (case number, time, correlation) is added there."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from contracts.vocabulary import Channel, Department, Step
from servicekit.aggregate import DomainEvent

Kind = Literal["establishment", "change"]


@dataclass(frozen=True, kw_only=True)
class ApplicationSubmitted(DomainEvent):
    application_id: str
    company_name: str
    applicant_id: str
    applicant_phone: str | None
    channel: Channel
    kind: Kind


@dataclass(frozen=True, kw_only=True)
class ApplicationIncomplete(DomainEvent):
    applicant_id: str
    missing: list[dict[str, str]]
    staff_id: str


@dataclass(frozen=True, kw_only=True)
class ApplicationAccepted(DomainEvent):
    applicant_id: str
    company_name: str
    kind: Kind
    channel: Channel
    accepted_at: datetime
    due_at: datetime
    staff_id: str
    due_at_provisional: bool = False  # counted through a year whose schedule is not known


@dataclass(frozen=True, kw_only=True)
class StepRequested(DomainEvent):
    step: Step
    department: Department
    attempt: int
    due_at: datetime
    unified_social_credit_code: str | None
    form: dict[str, Any]
    re_request: bool = False  # the same attempt asked again: no answer came in time
    due_at_provisional: bool = False


@dataclass(frozen=True, kw_only=True)
class StepApproved(DomainEvent):
    step: Step
    department: Department
    result: dict[str, Any]
    applicant_id: str


@dataclass(frozen=True, kw_only=True)
class StepReturned(DomainEvent):
    step: Step
    department: Department
    applicant_id: str
    reasons: list[dict[str, str]]


@dataclass(frozen=True, kw_only=True)
class LicenceIssued(DomainEvent):
    company_name: str
    unified_social_credit_code: str
    applicant_id: str
    kind: Kind
    issued_at: datetime


@dataclass(frozen=True, kw_only=True)
class CaseCompleted(DomainEvent):
    applicant_id: str
    company_name: str
    kind: Kind
    unified_social_credit_code: str
    accepted_at: datetime
    completed_at: datetime
    within_time_limit: bool
    results: dict[str, dict[str, Any]]
    staff_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class CaseRejected(DomainEvent):
    applicant_id: str
    step: Step
    department: Department
    reason: str


@dataclass(frozen=True, kw_only=True)
class DeadlineWarning(DomainEvent):
    due_at: datetime
    pending_steps: list[Step]
    helper_id: str | None
    due_at_provisional: bool = False


@dataclass(frozen=True, kw_only=True)
class CaseOverdue(DomainEvent):
    due_at: datetime
    pending_steps: list[Step]
    helper_id: str | None
    due_at_provisional: bool = False


@dataclass(frozen=True, kw_only=True)
class DeadlineRedated(DomainEvent):
    previous_due_at: datetime
    due_at: datetime
    due_at_provisional: bool
