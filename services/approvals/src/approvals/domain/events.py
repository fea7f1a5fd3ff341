"""The facts projects and stages record: one frozen dataclass per kind, named after what
happened; field names are those of the contract event each becomes (the service's EventMap
checks them at import). The envelope (key, time, correlation) is added there."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contracts.events.approvals import IssuedDocument, ItemKind, Stage
from contracts.vocabulary import Channel
from servicekit.aggregate import DomainEvent


@dataclass(frozen=True, kw_only=True)
class ProjectRegistered(DomainEvent):
    project_code: str
    project_name: str
    project_type: str
    builder_name: str
    builder_uscc: str
    division_code: str
    applicant_id: str
    applicant_phone: str | None


@dataclass(frozen=True, kw_only=True)
class ProjectCompleted(DomainEvent):
    applicant_id: str
    project_code: str
    project_name: str
    completed_at: datetime
    documents: list[IssuedDocument]


@dataclass(frozen=True, kw_only=True)
class _StageFact(DomainEvent):
    project_code: str
    stage: Stage
    catalogue_version: str


@dataclass(frozen=True, kw_only=True)
class StageDeclared(_StageFact):
    applicant_id: str
    channel: Channel
    items: list[str]


@dataclass(frozen=True, kw_only=True)
class StageIncomplete(_StageFact):
    applicant_id: str
    missing: list[dict[str, str]]
    staff_id: str


@dataclass(frozen=True, kw_only=True)
class StageAccepted(_StageFact):
    applicant_id: str
    project_name: str
    channel: Channel
    accepted_at: datetime
    due_at: datetime
    staff_id: str
    items: list[str]


@dataclass(frozen=True, kw_only=True)
class ItemRequested(_StageFact):
    item: str
    item_name: str
    kind: ItemKind
    department: str
    attempt: int
    due_at: datetime
    form: dict[str, Any]
    materials: dict[str, str]


@dataclass(frozen=True, kw_only=True)
class ItemApproved(_StageFact):
    applicant_id: str
    item: str
    kind: ItemKind
    departments: list[str]
    attempt: int


@dataclass(frozen=True, kw_only=True)
class ItemReturned(_StageFact):
    applicant_id: str
    item: str
    item_name: str
    departments: list[str]
    attempt: int
    reasons: list[dict[str, str]]


@dataclass(frozen=True, kw_only=True)
class StageRejected(_StageFact):
    applicant_id: str
    item: str
    department: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class JointAcceptancePassed(DomainEvent):
    applicant_id: str
    project_code: str
    catalogue_version: str
    departments: list[str]
    inspections: int


@dataclass(frozen=True, kw_only=True)
class StageCompleted(DomainEvent):
    applicant_id: str
    project_code: str
    project_name: str
    stage: Stage
    catalogue_version: str
    channel: Channel
    staff_id: str | None
    departments: list[str]
    accepted_at: datetime
    completed_at: datetime
    within_time_limit: bool
    same_day: bool
    documents: list[IssuedDocument]


@dataclass(frozen=True, kw_only=True)
class StageDeadlineWarning(_StageFact):
    due_at: datetime
    pending_items: list[str]
    helper_id: str | None


@dataclass(frozen=True, kw_only=True)
class StageOverdue(_StageFact):
    due_at: datetime
    pending_items: list[str]
    helper_id: str | None


@dataclass(frozen=True, kw_only=True)
class ItemOverdue(_StageFact):
    item: str
    item_name: str
    departments: list[str]
    attempt: int
    due_at: datetime
    helper_id: str | None
