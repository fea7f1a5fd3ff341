"""HTTP DTOs. The form models themselves live in the domain (one definition)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from contracts.vocabulary import PHONE_PATTERN, Channel, Decision
from registration.domain import STEP_DEPARTMENT, Case, ChangeForm, CompanyForm


class FieldReason(BaseModel):
    field: str = Field(min_length=1, description="Dotted path of the form field.")
    reason: str = Field(min_length=1)


class ApplicationIn(BaseModel):
    """One form for company start-up (一次填报)."""

    form: CompanyForm
    channel: Channel = "web"
    applicant_id: str | None = Field(default=None, description="Window staff only: whom they serve.")
    applicant_phone: str | None = Field(default=None, pattern=PHONE_PATTERN)


class ChangeIn(BaseModel):
    """A business licence change (营业执照变更)."""

    form: ChangeForm
    channel: Channel = "web"
    applicant_id: str | None = None
    applicant_phone: str | None = Field(default=None, pattern=PHONE_PATTERN)


class WindowCheckIn(BaseModel):
    defects: list[FieldReason] = Field(default_factory=list, description="Further defects seen by the staff member.")


class MaterialsIn(BaseModel):
    materials: list[str] = Field(min_length=1)


class DecisionIn(BaseModel):
    decision: Decision
    attempt: int | None = Field(default=None, ge=1, description="The request attempt answered (default: current).")
    reasons: list[FieldReason] = Field(default_factory=list)
    reason: str | None = None
    result: dict[str, Any] = Field(default_factory=dict)


class CorrectionIn(BaseModel):
    step: Literal["licence", "seal", "tax", "social_security"]
    fields: dict[str, Any] = Field(min_length=1, description="Dotted field path → corrected value.")


class HelperIn(BaseModel):
    helper_id: str = Field(min_length=1)


class StepOut(BaseModel):
    step: str
    department: str
    status: str
    attempt: int
    requested_at: datetime | None
    decided_at: datetime | None
    reasons: list[dict[str, str]]
    result: dict[str, Any]


class HistoryOut(BaseModel):
    at: datetime
    action: str
    actor: str
    detail: str


class CaseOut(BaseModel):
    case_number: str
    kind: str
    status: str
    company_name: str
    applicant_id: str
    channel: str
    submitted_at: datetime
    accepted_at: datetime | None
    due_at: datetime | None
    closed_at: datetime | None
    unified_social_credit_code: str | None
    helper_id: str | None
    overdue: bool
    missing: list[dict[str, str]]
    steps: list[StepOut]
    history: list[HistoryOut]

    @classmethod
    def of(cls, c: Case) -> CaseOut:
        return cls(
            case_number=c.case_number, kind=c.kind, status=c.status.value, company_name=c.form.company_name,
            applicant_id=c.applicant_id, channel=c.channel, submitted_at=c.submitted_at, accepted_at=c.accepted_at,
            due_at=c.due_at, closed_at=c.closed_at, unified_social_credit_code=c.uscc, helper_id=c.helper_id,
            overdue=c.overdue, missing=c.missing,
            steps=[StepOut(step=s.value, department=STEP_DEPARTMENT[s].value, status=st.status.value, attempt=st.attempt,
                           requested_at=st.requested_at, decided_at=st.decided_at, reasons=st.reasons,
                           result=st.result) for s, st in c.steps.items()],
            history=[HistoryOut(at=h.at, action=h.action, actor=h.actor, detail=h.detail) for h in c.history],
        )
