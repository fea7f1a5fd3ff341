"""The facts a cross-region case records; field names are those of the contract events
(the service's EventMap checks them at import)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from servicekit.aggregate import DomainEvent

Direction = Literal["outbound", "inbound"]
DeliverAt = Literal["origin", "handling"]


@dataclass(frozen=True, kw_only=True)
class CaseForwarded(DomainEvent):
    reference: str
    matter: str
    mode: str
    origin_region: str
    applicant_id: str
    applicant_phone: str | None
    form: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class CrossCaseOpened(DomainEvent):
    applicant_id: str
    applicant_phone: str | None
    matter: str
    mode: str
    direction: Direction
    origin_region: str
    handling_regions: list[str]
    region_names: str


@dataclass(frozen=True, kw_only=True)
class CrossCaseProgressed(DomainEvent):
    applicant_id: str
    matter: str
    status: str
    region: str
    region_name: str
    detail: str
    remote_case_number: str | None


@dataclass(frozen=True, kw_only=True)
class CaseCompleted(DomainEvent):
    applicant_id: str
    matter: str
    mode: str
    origin_region: str
    handling_regions: list[str]
    staff_id: str | None
    completed_at: datetime
    within_time_limit: bool
    deliver_at: DeliverAt
