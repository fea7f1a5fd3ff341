"""HTTP DTOs. The form models themselves live in the domain (one definition)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from contracts.vocabulary import PHONE_PATTERN, Channel, Decision
from registration.domain import STEP_DEPARTMENT, Case, ChangeForm, CompanyForm, Kind
from registration.domain.statistics import Report
from servicekit.text import Key, Line, Paragraph, RequestModel

# Request bodies refuse unknown fields (RequestModel) and bound every list, map and string
# (decision 23); the body as a whole is bounded by the kit (256 KiB by default).
MAX_ITEMS = 50
FieldPath = Annotated[str, Line(max_length=200, pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")]
Reason = Annotated[str, Paragraph(max_length=2000)]


class FieldReason(RequestModel):
    field: FieldPath = Field(description="Dotted path of the form field.")
    reason: Reason


class ApplicationIn(RequestModel):
    """One form for company start-up (一次填报)."""

    form: CompanyForm
    channel: Channel = "web"
    applicant_id: Key | None = Field(default=None, description="Window staff only: whom they serve.")
    applicant_phone: str | None = Field(default=None, pattern=PHONE_PATTERN)


class ChangeIn(RequestModel):
    """A business licence change (营业执照变更)."""

    form: ChangeForm
    channel: Channel = "web"
    applicant_id: Key | None = None
    applicant_phone: str | None = Field(default=None, pattern=PHONE_PATTERN)


class WindowCheckIn(RequestModel):
    defects: list[FieldReason] = Field(default_factory=list, max_length=MAX_ITEMS,
                                       description="Further defects seen by the staff member.")


class MaterialsIn(RequestModel):
    materials: list[Key] = Field(min_length=1, max_length=MAX_ITEMS)


class DecisionIn(RequestModel):
    decision: Decision
    attempt: int | None = Field(default=None, ge=1, le=1000,
                                 description="The request attempt answered (default: current).")
    reasons: list[FieldReason] = Field(default_factory=list, max_length=MAX_ITEMS)
    reason: Reason | None = None
    result: dict[Key, Any] = Field(default_factory=dict, max_length=MAX_ITEMS)


class CorrectionIn(RequestModel):
    step: Literal["licence", "seal", "tax", "social_security"]
    fields: dict[FieldPath, Any] = Field(min_length=1, max_length=MAX_ITEMS,
                                            description="Dotted field path → corrected value.")


class HelperIn(RequestModel):
    helper_id: Key


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
    due_at_provisional: bool = Field(default=False, description="due_at was counted through a year whose holidays "
                                     "and adjusted working days are not known yet: an estimate, re-dated once they are")
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
            due_at=c.due_at, due_at_provisional=c.due_at_provisional, closed_at=c.closed_at, unified_social_credit_code=c.uscc, helper_id=c.helper_id,
            overdue=c.overdue, missing=c.missing,
            steps=[StepOut(step=s.value, department=STEP_DEPARTMENT[s].value, status=st.status.value, attempt=st.attempt,
                           requested_at=st.requested_at, decided_at=st.decided_at, reasons=st.reasons,
                           result=st.result) for s, st in c.steps.items()],
            history=[HistoryOut(at=h.at, action=h.action, actor=h.actor, detail=h.detail) for h in c.history],
        )


# -- statistics ------------------------------------------------------------------------------------
class MatterOut(BaseModel):
    kind: Kind = Field(description="establishment (企业开办) or change (营业执照变更).")
    submitted: int = Field(description="Applications submitted in the month.")
    completed: int = Field(description="Cases completed in the month.")
    within_limit: int = Field(description="Of those completed, completed by their due time (1 working day).")
    attainment: float | None = Field(description="within_limit / completed (null: none completed).")
    overdue_open: int = Field(description="Cases submitted in the month, still open and past their due time.")


class TodayOut(BaseModel):
    date: str = Field(description="Today (Asia/Shanghai), YYYY-MM-DD.")
    submitted: int
    completed: int


class StatisticsOut(BaseModel):
    month: str
    matters: list[MatterOut]
    today: TodayOut

    @classmethod
    def of(cls, r: Report) -> StatisticsOut:
        return cls(month=r.month, matters=[MatterOut(kind=m.kind, submitted=m.submitted, completed=m.completed,
                                                     within_limit=m.within_limit, attainment=m.attainment,
                                                     overdue_open=m.overdue_open) for m in r.matters],
                   today=TodayOut(date=r.today.date, submitted=r.today.submitted, completed=r.today.completed))
