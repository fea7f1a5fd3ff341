"""Events produced by the registration service (企业开办) and the departments'
answers to its steps. Kafka key: the case number."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from contracts.envelope import Event
from contracts.vocabulary import Channel, Decision

CaseKind = Literal["establishment", "change"]
# Literals on the wire (the schema snapshots keep their enums); the names are contracts.vocabulary's.
Step = Literal["licence", "seal", "tax", "social_security"]
Department = Literal["market_supervision", "public_security", "tax", "human_resources_social_security"]


class FieldReason(BaseModel):
    """One field the applicant must correct, and why."""

    field: str = Field(description="Dotted path of the form field, e.g. `tax.taxpayer_type`.")
    reason: str = Field(description="Why it must be corrected (shown to the applicant).")


class ApplicationSubmittedV1(Event):
    """An applicant submitted a company start-up application (one form)."""

    ce_type = "cn.gov.onewindow.registration.application-submitted.v1"

    application_id: str = Field(description="Id of the application (equals the case number once accepted).")
    company_name: str = Field(description="Proposed company name (企业名称).")
    applicant_id: str = Field(description="Account id of the applicant who submitted it.")
    applicant_phone: str | None = Field(default=None, description="Applicant's mobile number for notices (personal data).")
    channel: Channel = Field(description="Where the application came in: window, web, app, wechat or another region's center.")
    kind: CaseKind = Field(default="establishment", description="Company establishment (设立) or a licence change (变更).")


class ApplicationIncompleteV1(Event):
    """Window staff found materials missing; every missing item is listed at once (一次性告知)."""

    ce_type = "cn.gov.onewindow.registration.application-incomplete.v1"

    applicant_id: str = Field(description="Account id of the applicant.")
    missing: list[FieldReason] = Field(description="Every missing or defective item, all at once.")
    staff_id: str = Field(description="Window staff member who checked the materials.")


class ApplicationAcceptedV1(Event):
    """The window accepted the application: the case exists and its clock runs."""

    ce_type = "cn.gov.onewindow.registration.application-accepted.v1"

    applicant_id: str = Field(description="Account id of the applicant.")
    company_name: str = Field(description="Company name as accepted.")
    kind: CaseKind = Field(description="Establishment or change.")
    channel: Channel = Field(description="Origin channel of the case.")
    accepted_at: datetime = Field(description="When the window accepted it (UTC).")
    due_at: datetime = Field(description="Time limit: end of the 1st working day after acceptance (UTC).")
    staff_id: str = Field(description="Window staff member who accepted it.")
    due_at_provisional: bool = Field(default=False, description="True when `due_at` was counted through a year "
                                     "whose holidays and adjusted working days are not known yet (an estimate); "
                                     "a `deadline-redated` event follows once they are.")


class StepRequestedV1(Event):
    """A department is asked to do its step; the partner agency consumes this."""

    ce_type = "cn.gov.onewindow.registration.step-requested.v1"

    step: Step = Field(description="licence, seal, tax or social_security.")
    department: Department = Field(description="The department responsible for the step.")
    attempt: int = Field(description="1 for the first request, +1 after each correction.")
    due_at: datetime = Field(description="The case's time limit (UTC).")
    unified_social_credit_code: str | None = Field(default=None, description="The company's code once the licence is issued.")
    form: dict[str, Any] = Field(description="The part of the form this department needs (may hold personal data).")
    re_request: bool = Field(default=False, description="True when the same attempt is asked again because no answer "
                             "came in time; answer it like the first request (an answer already given: the same answer "
                             "again, which has no second effect).")
    due_at_provisional: bool = Field(default=False, description="True when `due_at` was counted through a year "
                                     "whose holidays and adjusted working days are not known yet (an estimate); "
                                     "a `deadline-redated` event follows once they are.")


class StepApprovedV1(Event):
    """A department completed its step."""

    ce_type = "cn.gov.onewindow.registration.step-approved.v1"

    step: Step = Field(description="The step done.")
    department: Department = Field(description="The department that did it.")
    result: dict[str, Any] = Field(default_factory=dict, description="The department's result reference (e.g. seal numbers).")
    applicant_id: str | None = Field(default=None, description="Account id of the applicant (so a consumer needs no earlier event to reach them).")


class StepReturnedV1(Event):
    """A department returned its step for correction (补正); only that step pauses."""

    ce_type = "cn.gov.onewindow.registration.step-returned.v1"

    step: Step = Field(description="The step returned.")
    department: Department = Field(description="The department that returned it.")
    applicant_id: str = Field(description="Account id of the applicant who must correct.")
    reasons: list[FieldReason] = Field(description="The fields to correct and why; nothing else may change.")


class LicenceIssuedV1(Event):
    """The business licence was issued with its unified social credit code."""

    ce_type = "cn.gov.onewindow.registration.licence-issued.v1"

    company_name: str = Field(description="Registered company name.")
    unified_social_credit_code: str = Field(description="18-character code (GB 32100-2015).")
    applicant_id: str = Field(description="Account id of the applicant.")
    kind: CaseKind = Field(description="Establishment (new licence) or change (re-issued licence).")
    issued_at: datetime = Field(description="When it was issued (UTC).")


class CaseCompletedV1(Event):
    """Every step is done; the results are issued together at one window (统一出件)."""

    ce_type = "cn.gov.onewindow.registration.case-completed.v1"

    applicant_id: str = Field(description="Account id of the applicant (invited to rate the case).")
    company_name: str = Field(description="Registered company name.")
    kind: CaseKind = Field(description="Establishment or change.")
    unified_social_credit_code: str = Field(description="The company's code.")
    accepted_at: datetime = Field(description="When the case was accepted (UTC).")
    completed_at: datetime = Field(description="When the last step was done (UTC).")
    within_time_limit: bool = Field(description="Whether it completed before its due time.")
    results: dict[str, dict[str, Any]] = Field(description="Each step's result, issued together.")
    staff_id: str | None = Field(default=None, description="Window staff member who accepted the case (rated with it).")


class CaseRejectedV1(Event):
    """A department rejected its step; the case ends without a result."""

    ce_type = "cn.gov.onewindow.registration.case-rejected.v1"

    applicant_id: str = Field(description="Account id of the applicant.")
    step: Step = Field(description="The step rejected.")
    department: Department = Field(description="The department that rejected it.")
    reason: str = Field(description="Why (shown to the applicant).")


class DeadlineWarningV1(Event):
    """A case is at risk: little time is left before its time limit."""

    ce_type = "cn.gov.onewindow.registration.deadline-warning.v1"

    due_at: datetime = Field(description="The time limit (UTC).")
    pending_steps: list[Step] = Field(description="Steps not yet done.")
    helper_id: str | None = Field(default=None, description="The helper assigned to the case, if any.")
    due_at_provisional: bool = Field(default=False, description="True when `due_at` was counted through a year "
                                     "whose holidays and adjusted working days are not known yet (an estimate); "
                                     "a `deadline-redated` event follows once they are.")


class CaseOverdueV1(Event):
    """A case passed its time limit without completing."""

    ce_type = "cn.gov.onewindow.registration.case-overdue.v1"

    due_at: datetime = Field(description="The time limit that passed (UTC).")
    pending_steps: list[Step] = Field(description="Steps not yet done.")
    helper_id: str | None = Field(default=None, description="The helper assigned to the case, if any.")
    due_at_provisional: bool = Field(default=False, description="True when `due_at` was counted through a year "
                                     "whose holidays and adjusted working days are not known yet (an estimate); "
                                     "a `deadline-redated` event follows once they are.")


class DeadlineRedatedV1(Event):
    """A case's provisional time limit was recomputed once its year's working-day schedule became known."""

    ce_type = "cn.gov.onewindow.registration.deadline-redated.v1"

    previous_due_at: datetime = Field(description="The provisional time limit it replaces (UTC).")
    due_at: datetime = Field(description="The recomputed time limit (UTC).")
    due_at_provisional: bool = Field(default=False, description="Still an estimate (another year it was counted "
                                     "through is not known yet).")


class ForwardedApplicationRefusedV1(Event):
    """A case another region forwarded (crossregion's case-forwarded) could not become a case here: its form
    is not a valid form of the matter. Keyed by the cross-region reference; no case was made."""

    ce_type = "cn.gov.onewindow.registration.forwarded-application-refused.v1"

    reference: str = Field(description="The cross-region case's reference (the forwarded event's).")
    applicant_id: str = Field(description="Account id of the applicant.")
    reason: str = Field(description="Why: every field the form got wrong.")


class StepDecidedV1(Event):
    """A department's answer to a step request (produced by partner agencies or the simulator)."""

    ce_type = "cn.gov.onewindow.departments.step-decided.v1"

    step: Step = Field(description="The step answered.")
    department: Department = Field(description="The answering department.")
    attempt: int = Field(description="The attempt of the request this answers.")
    decision: Decision = Field(description="approved, returned (for correction) or rejected.")
    reasons: list[FieldReason] = Field(default_factory=list, description="For returned: the fields to correct.")
    reason: str | None = Field(default=None, description="For rejected: why.")
    result: dict[str, Any] = Field(default_factory=dict, description="For approved: the department's result reference.")
    reviewer_id: str = Field(description="Reviewer or system that decided.")
