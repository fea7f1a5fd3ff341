"""Which messages an event causes: who hears about it, with which template and values.

Applicants hear about every step of their case; staff hear about what needs them (a
step to review → the department's reviewers; a deadline warning or an overdue case →
the case's helper and the supervisors)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from contracts import Event
from contracts.events import approvals as apr
from contracts.events import crossregion as xr
from contracts.events import ratings as rat
from contracts.events import registration as reg
from contracts.vocabulary import department_name, step_name
from notifications.domain.contacts import OFF, Channel, Contact, QuietHours
from notifications.domain.errors import CaseUnknown
from notifications.domain.messages import Message, RetryPolicy
from notifications.domain.ordering import Sequencer
from notifications.domain.templates import SIGNATURE, TemplateCatalog, default_catalog, local_time

SUPERVISORS = "supervisors"


@dataclass(frozen=True)
class Rules:
    """The service's policies, built once from the settings."""

    catalog: TemplateCatalog = field(default_factory=default_catalog)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    default_channels: tuple[Channel, ...] = (Channel.SMS,)
    default_quiet_hours: QuietHours = OFF
    order_hold: timedelta = timedelta(seconds=5)  # how long an event waits for a missing predecessor


@dataclass
class CaseFile:
    """What notifications has learnt about a case from its events."""

    case_number: str
    applicant_id: str | None = None
    company_name: str | None = None
    helper_id: str | None = None
    updated_at: datetime | None = None
    order: Sequencer = field(default_factory=Sequencer)  # its events' order (domain.ordering)

    def learn(self, event: Event, now: datetime) -> bool:
        """Take what the event tells about the case; True if anything changed."""
        before = (self.applicant_id, self.company_name, self.helper_id)
        self.applicant_id = getattr(event, "applicant_id", None) or self.applicant_id
        self.company_name = getattr(event, "company_name", None) or self.company_name
        self.helper_id = getattr(event, "helper_id", None) or self.helper_id
        changed = before != (self.applicant_id, self.company_name, self.helper_id)
        if changed:
            self.updated_at = now
        return changed


@dataclass(frozen=True)
class Target:
    """A recipient: one person (``person``), a department's reviewers, or the supervisors."""

    kind: str  # "person" | "reviewers" | "supervisors"
    key: str

    @property
    def group_id(self) -> str:
        """The recipient id used when nobody of a group is registered (push to the group's topic)."""
        if self.kind == "person":
            return self.key
        return f"reviewers:{self.key}" if self.kind == "reviewers" else SUPERVISORS

    @classmethod
    def person(cls, person_id: str) -> Target:
        return cls("person", person_id)

    @classmethod
    def reviewers(cls, department: str) -> Target:
        return cls("reviewers", department)

    @classmethod
    def supervisors(cls) -> Target:
        return cls("supervisors", SUPERVISORS)


@dataclass(frozen=True)
class Notice:
    template: str
    target: Target
    values: dict[str, Any]


def _applicant(event: Event, case: CaseFile) -> Target:
    applicant = getattr(event, "applicant_id", None) or case.applicant_id
    if not applicant:
        raise CaseUnknown(f"case {event.case_number}: applicant not known yet for {type(event).__name__}")
    return Target.person(applicant)


def _reasons(items: list[reg.FieldReason]) -> str:
    return "；".join(f"{r.field}（{r.reason}）" for r in items)


def _steps(steps: Sequence[str]) -> str:
    return "、".join(step_name(s) for s in steps) or "无"


def _staff_on_call(event: reg.DeadlineWarningV1 | reg.CaseOverdueV1, case: CaseFile) -> list[Target]:
    helper = event.helper_id or case.helper_id
    return ([Target.person(helper)] if helper else []) + [Target.supervisors()]


def _submitted(e: reg.ApplicationSubmittedV1, case: CaseFile) -> list[Notice]:
    return [Notice("registration.submitted", Target.person(e.applicant_id),
                   {"company_name": e.company_name, "case_number": e.application_id})]


def _incomplete(e: reg.ApplicationIncompleteV1, case: CaseFile) -> list[Notice]:
    return [Notice("registration.incomplete", Target.person(e.applicant_id),
                   {"case_number": e.case_number, "missing": _reasons(e.missing)})]


def _accepted(e: reg.ApplicationAcceptedV1, case: CaseFile) -> list[Notice]:
    return [Notice("registration.accepted", Target.person(e.applicant_id),
                   {"company_name": e.company_name, "case_number": e.case_number, "due_local": local_time(e.due_at)})]


def _step_requested(e: reg.StepRequestedV1, case: CaseFile) -> list[Notice]:
    return [Notice("staff.step_to_review", Target.reviewers(e.department),
                   {"case_number": e.case_number, "step_name": step_name(e.step), "attempt": e.attempt,
                    "department_name": department_name(e.department), "due_local": local_time(e.due_at)})]


def _step_approved(e: reg.StepApprovedV1, case: CaseFile) -> list[Notice]:
    return [Notice("registration.step_approved", _applicant(e, case),
                   {"case_number": e.case_number, "step_name": step_name(e.step),
                    "department_name": department_name(e.department)})]


def _step_returned(e: reg.StepReturnedV1, case: CaseFile) -> list[Notice]:
    return [Notice("registration.step_returned", Target.person(e.applicant_id),
                   {"case_number": e.case_number, "step_name": step_name(e.step),
                    "department_name": department_name(e.department), "reasons": _reasons(e.reasons)})]


def _licence_issued(e: reg.LicenceIssuedV1, case: CaseFile) -> list[Notice]:
    return [Notice("registration.licence_issued", Target.person(e.applicant_id),
                   {"case_number": e.case_number, "company_name": e.company_name,
                    "unified_social_credit_code": e.unified_social_credit_code})]


def _completed(e: reg.CaseCompletedV1, case: CaseFile) -> list[Notice]:
    return [Notice("registration.case_completed", Target.person(e.applicant_id),
                   {"case_number": e.case_number, "company_name": e.company_name})]


def _rejected(e: reg.CaseRejectedV1, case: CaseFile) -> list[Notice]:
    return [Notice("registration.case_rejected", Target.person(e.applicant_id),
                   {"case_number": e.case_number, "step_name": step_name(e.step),
                    "department_name": department_name(e.department), "reason": e.reason})]


def _deadline_warning(e: reg.DeadlineWarningV1, case: CaseFile) -> list[Notice]:
    values = {"case_number": e.case_number, "due_local": local_time(e.due_at), "pending_steps": _steps(e.pending_steps)}
    return [Notice("staff.deadline_warning", t, values) for t in _staff_on_call(e, case)]


def _overdue(e: reg.CaseOverdueV1, case: CaseFile) -> list[Notice]:
    values = {"case_number": e.case_number, "due_local": local_time(e.due_at), "pending_steps": _steps(e.pending_steps)}
    return [Notice("staff.case_overdue", t, values) for t in _staff_on_call(e, case)]


_STAGE_NAMES = {"initiation_land_use": "立项用地规划许可", "engineering_construction": "工程建设许可",
                "construction_permit": "施工许可", "completion_acceptance": "竣工验收"}


def _item_returned(e: apr.ItemReturnedV1, case: CaseFile) -> list[Notice]:
    return [Notice("approvals.item_returned", Target.person(e.applicant_id),
                   {"case_number": e.case_number, "project_code": e.project_code,
                    "stage_name": _STAGE_NAMES.get(e.stage, e.stage), "item_name": e.item_name,
                    "reasons": "；".join(f"{r.field}（{r.reason}）" for r in e.reasons)})]


def _stage_completed(e: apr.StageCompletedV1, case: CaseFile) -> list[Notice]:
    return [Notice("approvals.stage_completed", Target.person(e.applicant_id),
                   {"case_number": e.case_number, "project_code": e.project_code, "project_name": e.project_name,
                    "stage_name": _STAGE_NAMES.get(e.stage, e.stage),
                    "documents": "、".join(d.number for d in e.documents) or "无"})]


def _project_completed(e: apr.ProjectCompletedV1, case: CaseFile) -> list[Notice]:
    return [Notice("approvals.project_completed", Target.person(e.applicant_id),
                   {"project_code": e.project_code, "project_name": e.project_name, "count": len(e.documents)})]


REQUEST_KINDS = {"consultation": "咨询", "suggestion": "建议", "complaint": "投诉"}


def _rating_invited(e: rat.RatingInvitedV1, case: CaseFile) -> list[Notice]:
    return [Notice("applicant.rating_invitation", Target.person(e.applicant_id),
                   {"case_number": e.case_number, "rating_url": e.rating_url, "expires_local": local_time(e.expires_at)})]


def _entry_opened(e: rat.LedgerEntryOpenedV1, case: CaseFile) -> list[Notice]:
    return [Notice("staff.bad_rating_assigned", Target.person(e.owner_id),
                   {"case_number": e.case_number, "due_local": local_time(e.callback_due_at)})]


def _feedback(e: rat.RectificationFeedbackGivenV1, case: CaseFile) -> list[Notice]:
    return [Notice("applicant.rectification_feedback", _applicant(e, case),
                   {"case_number": e.case_number, "feedback": e.feedback})]


def _explanation(e: rat.ExplanationGivenV1, case: CaseFile) -> list[Notice]:
    return [Notice("applicant.rating_explanation", _applicant(e, case),
                   {"case_number": e.case_number, "explanation": e.explanation})]


def _rectification_due(e: rat.RectificationDueWarningV1, case: CaseFile) -> list[Notice]:
    values = {"case_number": e.case_number, "due_local": local_time(e.due_at)}
    return [Notice("staff.rectification_due", t, values) for t in (Target.person(e.owner_id), Target.supervisors())]


def _rectification_overdue(e: rat.RectificationOverdueV1, case: CaseFile) -> list[Notice]:
    values = {"case_number": e.case_number, "due_local": local_time(e.due_at)}
    return [Notice("staff.rectification_overdue", t, values) for t in (Target.person(e.owner_id), Target.supervisors())]


def _card_mismatch(e: rat.CardDayMismatchV1, case: CaseFile) -> list[Notice]:
    return [Notice("staff.card_mismatch", Target.supervisors(),
                   {"day": e.day, "window_id": e.window_id, "issued": e.issued, "used": e.used,
                    "returned": e.returned, "void": e.void, "missing": "、".join(e.missing) or "无"})]


def _request_submitted(e: rat.RequestSubmittedV1, case: CaseFile) -> list[Notice]:
    return [Notice("staff.request_to_answer", Target.reviewers(e.department),
                   {"kind": REQUEST_KINDS[e.kind], "case_number": e.case_number,
                    "department_name": department_name(e.department), "due_local": local_time(e.due_at)})]


def _request_replied(e: rat.RequestRepliedV1, case: CaseFile) -> list[Notice]:
    return [Notice("applicant.consultation_reply", Target.person(e.person_id),
                   {"kind": REQUEST_KINDS[e.kind], "case_number": e.case_number,
                    "department_name": department_name(e.department), "reply": e.reply})]


CROSS_STATUS_NAMES = {"registered": "已登记", "incomplete": "要求补充材料", "accepted": "已受理", "returned": "要求补正",
                      "licence_issued": "已核发营业执照", "part_completed": "的部分已办结", "completed": "已办结",
                      "rejected": "未予通过", "handed_out": "结果已领取"}


def _cross_opened(e: xr.CrossCaseOpenedV1, case: CaseFile) -> list[Notice]:
    if e.direction == "inbound" and e.mode != "online":
        return []  # the origin region's center tells its applicant
    values = {"case_number": e.case_number, "matter_name": xr.MATTER_NAMES[e.matter], "mode_name": xr.MODE_NAMES[e.mode],
              "region_names": e.region_names}
    return [Notice("crossregion.opened" if e.direction == "outbound" else "crossregion.received",
                   Target.person(e.applicant_id), values)]


def _cross_progressed(e: xr.CrossCaseProgressedV1, case: CaseFile) -> list[Notice]:
    values = {"case_number": e.case_number, "matter_name": xr.MATTER_NAMES[e.matter]}
    if e.status == "result_ready":
        return [Notice("crossregion.result_ready", Target.person(e.applicant_id), values)]
    if e.status == "completed" or e.status not in CROSS_STATUS_NAMES:
        return []  # completion: the completion event's message
    return [Notice("crossregion.progressed", Target.person(e.applicant_id),
                   {**values, "region_name": e.region_name, "status_name": CROSS_STATUS_NAMES[e.status],
                    "detail": e.detail or "—"})]


def _cross_completed(e: xr.CrossRegionCaseCompletedV1, case: CaseFile) -> list[Notice]:
    return [Notice("crossregion.completed", Target.person(e.applicant_id),
                   {"case_number": e.case_number, "matter_name": xr.MATTER_NAMES[e.matter]})]


_PLANNERS: dict[type[Event], Callable[[Any, CaseFile], list[Notice]]] = {
    apr.ItemReturnedV1: _item_returned,
    apr.StageCompletedV1: _stage_completed,
    apr.ProjectCompletedV1: _project_completed,
    rat.RatingInvitedV1: _rating_invited,
    rat.LedgerEntryOpenedV1: _entry_opened,
    rat.RectificationFeedbackGivenV1: _feedback,
    rat.ExplanationGivenV1: _explanation,
    rat.RectificationDueWarningV1: _rectification_due,
    rat.RectificationOverdueV1: _rectification_overdue,
    rat.CardDayMismatchV1: _card_mismatch,
    rat.RequestSubmittedV1: _request_submitted,
    rat.RequestRepliedV1: _request_replied,
    xr.CrossCaseOpenedV1: _cross_opened,
    xr.CrossCaseProgressedV1: _cross_progressed,
    xr.CrossRegionCaseCompletedV1: _cross_completed,
    reg.ApplicationSubmittedV1: _submitted,
    reg.ApplicationIncompleteV1: _incomplete,
    reg.ApplicationAcceptedV1: _accepted,
    reg.StepRequestedV1: _step_requested,
    reg.StepApprovedV1: _step_approved,
    reg.StepReturnedV1: _step_returned,
    reg.LicenceIssuedV1: _licence_issued,
    reg.CaseCompletedV1: _completed,
    reg.CaseRejectedV1: _rejected,
    reg.DeadlineWarningV1: _deadline_warning,
    reg.CaseOverdueV1: _overdue,
}
NOTIFIED_EVENTS: tuple[type[Event], ...] = tuple(_PLANNERS)


def notices_for(event: Event, case: CaseFile) -> list[Notice]:
    """The notices an event causes (none for an event nobody needs to hear about)."""
    planner = _PLANNERS.get(type(event))
    return planner(event, case) if planner else []


def messages_for(notice: Notice, recipients: list[Contact], event: Event, rules: Rules, now: datetime,
                 trace_id: str | None) -> list[Message]:
    """Render the notice once and address it to every recipient on each of their channels.
    Non-urgent messages wait for the end of the recipient's quiet hours."""
    rendered = rules.catalog.render(notice.template, notice.values)
    messages = []
    for contact in recipients:
        not_before = contact.effective_quiet_hours(rules.default_quiet_hours).release_time(now, rendered.urgent)
        for channel, address in contact.routes(rules.default_channels):
            text = SIGNATURE + rendered.text if channel is Channel.SMS else rendered.text
            messages.append(Message.accept(
                event_id=event.event_id, case_number=event.case_number, recipient_id=contact.recipient_id,
                channel=channel.value, address=address, template=rendered.template_id, title=rendered.title,
                text=text, urgent=rendered.urgent, now=now, not_before=not_before, ttl=rendered.ttl,
                trace_id=trace_id, case_seq=event.case_seq,
            ))
    return messages
