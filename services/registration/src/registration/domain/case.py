"""The registration case: its state machine and rules. Pure: no I/O.

    submitted ⇄ incomplete → accepted (clock runs) → completed | rejected

Steps: licence first; once issued (with the unified social credit code), seal, tax
and social security run in parallel. A returned step pauses only itself; a
correction re-requests only that step. The case completes when every step is
approved, and the results are issued together."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from contracts.vocabulary import STEP_DEPARTMENT, Channel, Step
from registration.domain import events as facts
from registration.domain.events import Kind
from registration.domain.forms import ChangeForm, CompanyForm, required_materials
from servicekit.aggregate import Aggregate


class DomainError(Exception):
    """A rule of the domain was broken."""

    errors: list[dict[str, str]] | None = None


class InvalidState(DomainError):
    """The case is not in a state that allows this."""


class StaleDecision(InvalidState):
    """A department answered a request that is no longer open (already answered or superseded)."""


class NameTaken(DomainError):
    """The company name is registered or under application."""

    def __init__(self, name: str) -> None:
        super().__init__(f"company name {name!r} is already registered or under application")
        self.errors = [{"field": "company_name", "message": str(self)}]


class CorrectionNotAllowed(DomainError):
    """A correction touched fields the department did not ask for, or left the form invalid."""

    def __init__(self, message: str, errors: list[dict[str, str]]) -> None:
        super().__init__(message)
        self.errors = errors


class ReturnNotAllowed(DomainError):
    """A department returned fields that are not its own (or not fields of the form)."""

    def __init__(self, step: Step, errors: list[dict[str, str]]) -> None:
        super().__init__(f"the {step.value} step may return only its own fields")
        self.errors = errors


class MaterialNotListed(DomainError):
    """A supplement named a material the case does not need (not on its required list)."""

    def __init__(self, unknown: list[tuple[int, str]], listed: Sequence[str]) -> None:
        super().__init__("only the materials this case needs can be supplemented")
        self.errors = [{"field": f"materials.{i}",
                        "message": f"{name!r} is not a material this case needs (one of: {', '.join(listed)})"}
                       for i, name in unknown]


class NotFound(DomainError):
    """No such case (or not the caller's)."""


class ApplicantRequired(DomainError):
    """Staff submit on behalf of an applicant, whom they must name."""

    def __init__(self) -> None:
        super().__init__("window staff must name the applicant")
        self.errors = [{"field": "applicant_id", "message": "required when staff submit", "type": "role_rule"}]


class NotYourDepartment(DomainError):
    """A reviewer may act only on its own department's steps."""

    def __init__(self, step: Step, department: str | None) -> None:
        super().__init__(f"the {step.value} step belongs to {STEP_DEPARTMENT[step]}, not {department}")


class Status(StrEnum):
    SUBMITTED = "submitted"
    INCOMPLETE = "incomplete"
    ACCEPTED = "accepted"
    COMPLETED = "completed"
    REJECTED = "rejected"


# Progress never goes back: submitted and incomplete share the first rank.
RANK = {Status.SUBMITTED: 0, Status.INCOMPLETE: 0, Status.ACCEPTED: 1, Status.COMPLETED: 2, Status.REJECTED: 2}
OPEN = (Status.SUBMITTED, Status.INCOMPLETE, Status.ACCEPTED)


AFTER_LICENCE = (Step.SEAL, Step.TAX, Step.SOCIAL_SECURITY)

# What each department may return for correction: its own part of the form (top-level
# fields). The licence owns every fact it registers (name, type, address, capital, scope,
# legal representative, shareholders: what a licence change changes, too); the others own
# their section. The materials are the window's; a change's credit code is not corrected.
OWN_FIELDS: dict[Step, frozenset[str]] = {
    Step.SEAL: frozenset({"seal_order"}),
    Step.TAX: frozenset({"tax"}),
    Step.SOCIAL_SECURITY: frozenset({"employees"}),
}
NOT_RETURNABLE = frozenset({"materials", "unified_social_credit_code"})


class StepStatus(StrEnum):
    WAITING = "waiting"  # not requested yet (waits for the licence)
    REQUESTED = "requested"
    RETURNED = "returned"
    APPROVED = "approved"
    REJECTED = "rejected"


_OUTCOME = {"approved": StepStatus.APPROVED, "returned": StepStatus.RETURNED, "rejected": StepStatus.REJECTED}


@dataclass
class StepState:
    status: StepStatus = StepStatus.WAITING
    attempt: int = 0
    requested_at: datetime | None = None
    decided_at: datetime | None = None
    reasons: list[dict[str, str]] = field(default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None  # of a rejection


@dataclass
class HistoryEntry:
    at: datetime
    action: str
    actor: str
    detail: str = ""


@dataclass(kw_only=True)
class Case(Aggregate):
    case_number: str
    kind: Kind
    form: CompanyForm | ChangeForm
    applicant_id: str
    channel: Channel
    submitted_at: datetime
    applicant_phone: str | None = None
    status: Status = Status.SUBMITTED
    steps: dict[Step, StepState] = field(default_factory=dict)
    accepted_at: datetime | None = None
    due_at: datetime | None = None
    due_at_provisional: bool = False  # due_at was counted through a year whose schedule is not known
    closed_at: datetime | None = None
    staff_id: str | None = None
    helper_id: str | None = None
    uscc: str | None = None
    missing: list[dict[str, str]] = field(default_factory=list)
    warned: bool = False
    overdue: bool = False
    correlation_id: str = ""
    history: list[HistoryEntry] = field(default_factory=list)

    # -- creation -------------------------------------------------------------------
    @classmethod
    def submit(cls, *, case_number: str, form: CompanyForm | ChangeForm, applicant_id: str, channel: Channel,
               now: datetime, applicant_phone: str | None = None, correlation_id: str = "") -> Case:
        kind: Kind = "change" if isinstance(form, ChangeForm) else "establishment"
        steps = {Step.LICENCE: StepState()}
        if kind == "establishment":
            steps.update({s: StepState() for s in AFTER_LICENCE})
        case = cls(case_number=case_number, kind=kind, form=form, applicant_id=applicant_id, channel=channel,
                   submitted_at=now, applicant_phone=applicant_phone, steps=steps,
                   correlation_id=correlation_id or case_number,
                   uscc=form.unified_social_credit_code if isinstance(form, ChangeForm) else None)
        case._log(now, "submitted", applicant_id, f"via {channel}")
        case.record(facts.ApplicationSubmitted(application_id=case_number, company_name=form.company_name,
                                               applicant_id=applicant_id, applicant_phone=applicant_phone,
                                               channel=channel, kind=kind))
        return case

    def is_same_application(self, applicant_id: str, form: CompanyForm | ChangeForm) -> bool:
        """The same applicant's identical form while this case is open: one application, however
        often it is sent (a closed case's name is taken: a new application is refused)."""
        return self.is_open and self.applicant_id == applicant_id and self.form == form

    # -- window acceptance (一次性告知) ----------------------------------------------
    def missing_materials(self, defects: Sequence[Mapping[str, str]] = ()) -> list[dict[str, str]]:
        given = set(self.form.materials)
        missing = [{"field": f"materials.{key}", "reason": f"缺少{name}"}
                   for key, name in required_materials(self.form).items() if key not in given]
        return missing + [dict(d) for d in defects]

    def check_at_window(self, *, staff_id: str, now: datetime, due_at: datetime,
                        defects: Sequence[Mapping[str, str]] = (), due_at_provisional: bool = False) -> bool:
        """Accept, or list everything missing at once. ``due_at`` comes from the calendar
        (``due_at_provisional``: counted through a year whose schedule is not known).

        The same check again (the same staff member finding the same defects, e.g. retried
        after a lost reply) changes nothing and returns False: the case already answers it."""
        missing = self.missing_materials(defects)
        if self._repeats_check(staff_id, missing):
            return False
        self._require(Status.SUBMITTED, Status.INCOMPLETE)
        self.staff_id = staff_id
        if missing:
            self.status, self.missing = Status.INCOMPLETE, missing
            self._log(now, "incomplete", staff_id, "; ".join(m["reason"] for m in missing))
            self.record(facts.ApplicationIncomplete(applicant_id=self.applicant_id, missing=missing, staff_id=staff_id))
            return True
        self.status, self.missing, self.accepted_at, self.due_at = Status.ACCEPTED, [], now, due_at
        self.due_at_provisional = due_at_provisional
        self._log(now, "accepted", staff_id, f"due {due_at.isoformat()}" + (" (provisional)" if due_at_provisional else ""))
        self.record(facts.ApplicationAccepted(applicant_id=self.applicant_id, company_name=self.form.company_name,
                                              kind=self.kind, channel=self.channel, accepted_at=now, due_at=due_at,
                                              staff_id=staff_id, due_at_provisional=due_at_provisional))
        self._request(Step.LICENCE, now)
        return True

    def _repeats_check(self, staff_id: str, missing: list[dict[str, str]]) -> bool:
        if self.staff_id != staff_id:
            return False
        if self.accepted_at is not None:  # they accepted it: with nothing missing it is the same check
            return not missing
        return self.status is Status.INCOMPLETE and self.missing == missing

    def supplement(self, *, materials: list[str], now: datetime, by: str | None = None) -> bool:
        """The applicant (or window staff for them: ``by``) adds what the window listed; the
        application goes back to the window. Only materials on the case's required list are
        taken (anything else is refused, and nothing changes). Materials the case already
        has, once it is no longer incomplete (a retry), change nothing: False."""
        listed = required_materials(self.form)
        unknown = [(i, m) for i, m in enumerate(materials) if m not in listed]
        if unknown:
            raise MaterialNotListed(unknown, list(listed))
        if self.status is not Status.INCOMPLETE and set(materials) <= set(self.form.materials):
            return False
        self._require(Status.INCOMPLETE)
        merged = sorted(set(self.form.materials) | set(materials))
        self.form = self.form.model_copy(update={"materials": merged})
        self.status = Status.SUBMITTED
        self._log(now, "supplemented", by or self.applicant_id, ", ".join(materials))
        return True

    # -- departments --------------------------------------------------------------------
    def decide(self, *, step: Step, attempt: int, decision: str, now: datetime, reviewer: str,
               reasons: Sequence[Mapping[str, str]] = (), reason: str | None = None,
               result: dict[str, Any] | None = None, uscc: str | None = None) -> bool:
        """Record a department's answer. The licence approval of a new company needs ``uscc``.

        The answer already recorded for this attempt, again with the same content (a retry,
        or the department's duplicate), changes nothing: False. Another answer to an attempt
        no longer awaiting one is stale."""
        state = self.steps.get(step)
        if state is not None and _repeats_decision(state, attempt, decision, reasons, reason, result):
            return False
        self._require(Status.ACCEPTED)
        if state is None or state.status is not StepStatus.REQUESTED or state.attempt != attempt:
            raise StaleDecision(f"{step} attempt {attempt} is not awaiting a decision")
        department = STEP_DEPARTMENT[step]
        state.decided_at = now
        if decision == "approved":
            self._approve(step, state, now, reviewer, result or {}, uscc)
        elif decision == "returned":
            if not reasons:
                raise DomainError("a returned step must name the fields to correct")
            self._check_returnable(step, reasons)
            state.status, state.reasons = StepStatus.RETURNED, [dict(r) for r in reasons]
            self._log(now, f"{step}_returned", reviewer, "; ".join(f"{r['field']}: {r['reason']}" for r in reasons))
            self.record(facts.StepReturned(step=step, department=department, applicant_id=self.applicant_id,
                                           reasons=state.reasons))
        elif decision == "rejected":
            state.status, state.reason = StepStatus.REJECTED, reason
            self.status, self.closed_at = Status.REJECTED, now
            self._log(now, f"{step}_rejected", reviewer, reason or "")
            self.record(facts.CaseRejected(applicant_id=self.applicant_id, step=step, department=department,
                                           reason=reason or "rejected"))
        else:
            raise DomainError(f"unknown decision {decision!r}")
        return True

    def returnable(self, step: Step) -> frozenset[str]:
        """The top-level form fields ``step``'s department may return for correction."""
        if step is Step.LICENCE:
            return frozenset(type(self.form).model_fields) - NOT_RETURNABLE - frozenset().union(*OWN_FIELDS.values())
        return OWN_FIELDS[step]

    def _check_returnable(self, step: Step, reasons: Sequence[Mapping[str, str]]) -> None:
        own = self.returnable(step)
        errors = []
        for i, r in enumerate(reasons):
            top = r["field"].split(".")[0]
            if top in own:
                continue
            owner = next((s for s in self.steps if top in self.returnable(s)), None)
            message = (f"{r['field']!r} belongs to the {owner.value} step, not {step.value}" if owner
                       else f"{r['field']!r} is not a field {step.value} can return")
            errors.append({"field": f"reasons.{i}.field", "message": message})
        if errors:
            raise ReturnNotAllowed(step, errors)

    def needs_code(self, step: Step, decision: str) -> bool:
        return step is Step.LICENCE and decision == "approved" and self.uscc is None

    @property
    def division_code(self) -> str:
        """Where the company is registered (its credit code carries it); a change keeps its code."""
        if not isinstance(self.form, CompanyForm):
            raise InvalidState(f"case {self.case_number} is a change: its company has a code")
        return self.form.address.division_code

    def _approve(self, step: Step, state: StepState, now: datetime, reviewer: str, result: dict[str, Any],
                 uscc: str | None) -> None:
        if step is Step.LICENCE:
            if self.uscc is None:
                if uscc is None:
                    raise DomainError("the licence needs a unified social credit code")
                self.uscc = uscc
            result = {**result, "unified_social_credit_code": self.uscc}
        state.status, state.result, state.reasons = StepStatus.APPROVED, result, []
        self._log(now, f"{step}_approved", reviewer)
        self.record(facts.StepApproved(step=step, department=STEP_DEPARTMENT[step], result=result,
                                       applicant_id=self.applicant_id))
        if step is Step.LICENCE:
            self.record(facts.LicenceIssued(company_name=self.form.company_name,
                                            unified_social_credit_code=self._code(), applicant_id=self.applicant_id,
                                            kind=self.kind, issued_at=now))
            for nxt in AFTER_LICENCE:
                if nxt in self.steps:
                    self._request(nxt, now)
        if all(s.status is StepStatus.APPROVED for s in self.steps.values()):
            self._complete(now)

    def _complete(self, now: datetime) -> None:
        if self.accepted_at is None:
            raise InvalidState(f"case {self.case_number} was never accepted")
        self.status, self.closed_at = Status.COMPLETED, now
        self._log(now, "completed", "system", "results issued together at the window")
        self.record(facts.CaseCompleted(applicant_id=self.applicant_id, company_name=self.form.company_name,
                                        kind=self.kind, unified_social_credit_code=self._code(),
                                        accepted_at=self.accepted_at,
                                        completed_at=now, within_time_limit=now <= self._due(),
                                        results={s.value: st.result for s, st in self.steps.items()},
                                        staff_id=self.staff_id))

    # -- corrections (补正) ----------------------------------------------------------------
    def correct(self, *, step: Step, fields: dict[str, Any], now: datetime) -> bool:
        """Apply the applicant's fixes to exactly the fields the department named, and ask that
        step again. A fix that changes what the licence registers (a return recorded before
        departments were held to their own fields) re-requests the licence instead, and the
        steps after it wait for the licence to be issued again: no step stays approved on
        facts the licence no longer has. The same correction again, once applied (a retry),
        changes nothing: False."""
        state = self.steps.get(step)
        if state is not None and state.status is not StepStatus.RETURNED and self._corrected(step, fields):
            return False
        self._require(Status.ACCEPTED)
        if state is None or state.status is not StepStatus.RETURNED:
            raise InvalidState(f"{step} is not returned for correction")
        asked = {r["field"] for r in state.reasons}
        extra = [f for f in fields if not any(f == a or f.startswith(a + ".") for a in asked)]
        missing = [a for a in asked if not any(f == a or f.startswith(a + ".") for f in fields)]
        if extra or missing:
            errors = [{"field": f, "message": "not asked for by the department"} for f in extra]
            errors += [{"field": f, "message": "asked for by the department but not corrected"} for f in missing]
            raise CorrectionNotAllowed("correct exactly the fields the department returned", errors)
        try:
            form = self._with(fields)
        except ValidationError as exc:
            errors = [{"field": ".".join(map(str, e["loc"])) or "form", "message": e["msg"]} for e in exc.errors()]
            raise CorrectionNotAllowed("the corrected form is not valid", errors) from exc
        relicence = sorted(f for f in self.returnable(Step.LICENCE) if getattr(form, f) != getattr(self.form, f))
        self.form = form
        self._log(now, f"{step}_corrected", self.applicant_id, ", ".join(sorted(fields)))
        if step is not Step.LICENCE and relicence and self.steps[Step.LICENCE].status is not StepStatus.WAITING:
            for later in AFTER_LICENCE:
                if later in self.steps:
                    self.steps[later].status, self.steps[later].reasons = StepStatus.WAITING, []
            self._log(now, "licence_re_requested", "system", "changed: " + ", ".join(relicence))
            self._request(Step.LICENCE, now)
        else:
            self._request(step, now)
        return True

    def _with(self, fields: dict[str, Any]) -> CompanyForm | ChangeForm:
        data = self.form.model_dump(mode="json")
        for path, value in fields.items():
            _set_path(data, path, value)
        return type(self.form).model_validate(data)

    def _corrected(self, step: Step, fields: dict[str, Any]) -> bool:
        """These fields were this step's last correction, and the form still holds them."""
        last = next((h for h in reversed(self.history) if h.action == f"{step}_corrected"), None)
        if last is None or last.detail != ", ".join(sorted(fields)):
            return False
        try:
            return self._with(fields) == self.form
        except (ValidationError, LookupError, ValueError, TypeError):
            return False

    # -- supervision --------------------------------------------------------------------
    def assign_helper(self, *, helper_id: str, by: str, now: datetime) -> bool:
        """False when this helper is already the case's (nothing changes)."""
        if self.helper_id == helper_id:
            return False
        if self.status not in OPEN:
            raise InvalidState("the case is closed")
        self.helper_id = helper_id
        self._log(now, "helper_assigned", by, helper_id)
        return True

    def re_request(self, now: datetime) -> list[Step]:
        """Ask again, with the same attempt, every step whose request is still unanswered
        (before the case is escalated). Returned steps wait for the applicant, and steps
        not requested yet, are not asked. Returns the steps asked again."""
        if self.status is not Status.ACCEPTED:
            return []
        asked = [s for s, st in self.steps.items() if st.status is StepStatus.REQUESTED]
        for step in asked:
            state = self.steps[step]
            self._log(now, f"{step}_re_requested", "system", f"attempt {state.attempt}: no answer yet")
            self.record(self._step_requested(step, state, re_request=True))
        return asked

    def warn(self, now: datetime) -> bool:
        """The deadline warning; once, and only for an open accepted case."""
        if self.status is not Status.ACCEPTED or self.warned:
            return False
        self.warned = True
        self._log(now, "deadline_warning", "system")
        self.record(facts.DeadlineWarning(due_at=self._due(), pending_steps=self.pending_steps(),
                                          helper_id=self.helper_id, due_at_provisional=self.due_at_provisional))
        return True

    def mark_overdue(self, now: datetime) -> bool:
        if self.status is not Status.ACCEPTED or self.overdue:
            return False
        self.overdue = True
        self._log(now, "overdue", "system")
        self.record(facts.CaseOverdue(due_at=self._due(), pending_steps=self.pending_steps(),
                                      helper_id=self.helper_id, due_at_provisional=self.due_at_provisional))
        return True

    def redate(self, *, due_at: datetime, provisional: bool, now: datetime) -> bool:
        """The calendar now knows a year this open case's provisional deadline was counted
        through: take the recomputed ``due_at``. A moved deadline is recorded (an event); one
        that stays put only loses its mark. False (nothing changes) unless the case is open,
        accepted and provisional, or when the recomputation is still the same estimate."""
        if self.status is not Status.ACCEPTED or not self.due_at_provisional:
            return False
        previous = self._due()
        if due_at == previous and provisional:
            return False
        self.due_at, self.due_at_provisional = due_at, provisional
        detail = f"due {due_at.isoformat()}" + (" (provisional)" if provisional else "")
        if due_at != previous:
            self._log(now, "redated", "system", f"{detail}, was {previous.isoformat()}")
            self.record(facts.DeadlineRedated(previous_due_at=previous, due_at=due_at, due_at_provisional=provisional))
        else:
            self._log(now, "due_confirmed", "system", detail)
        return True

    def pending_steps(self) -> list[Step]:
        return [s for s, st in self.steps.items() if st.status is not StepStatus.APPROVED]

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    # -- internals ------------------------------------------------------------------------
    def _request(self, step: Step, now: datetime) -> None:
        state = self.steps[step]
        state.status, state.attempt, state.requested_at, state.reasons = StepStatus.REQUESTED, state.attempt + 1, now, []
        self._log(now, f"{step}_requested", "system", f"attempt {state.attempt}")
        self.record(self._step_requested(step, state))

    def _step_requested(self, step: Step, state: StepState, *, re_request: bool = False) -> facts.StepRequested:
        return facts.StepRequested(step=step, department=STEP_DEPARTMENT[step], attempt=state.attempt,
                                   due_at=self._due(), unified_social_credit_code=self.uscc,
                                   form=self.form_for(step), re_request=re_request,
                                   due_at_provisional=self.due_at_provisional)

    def form_for(self, step: Step) -> dict[str, Any]:
        """Only the part of the form the department needs."""
        data = self.form.model_dump(mode="json")
        keep = {
            Step.LICENCE: set(data) - {"seal_order", "tax", "employees"},
            Step.SEAL: {"company_name", "legal_representative", "seal_order"},
            Step.TAX: {"company_name", "company_type", "address", "legal_representative", "tax"},
            Step.SOCIAL_SECURITY: {"company_name", "address", "employees"},
        }[step]
        return {k: v for k, v in data.items() if k in keep}

    def _require(self, *allowed: Status) -> None:
        if self.status not in allowed:
            raise InvalidState(f"case {self.case_number} is {self.status.value}")

    def _log(self, at: datetime, action: str, actor: str, detail: str = "") -> None:
        self.history.append(HistoryEntry(at, action, actor, detail))

    def _due(self) -> datetime:
        if self.due_at is None:
            raise InvalidState(f"case {self.case_number} is not accepted: it has no time limit yet")
        return self.due_at

    def _code(self) -> str:
        if self.uscc is None:
            raise InvalidState(f"case {self.case_number} has no unified social credit code yet")
        return self.uscc


def _repeats_decision(state: StepState, attempt: int, decision: str, reasons: Sequence[Mapping[str, str]],
                      reason: str | None, result: dict[str, Any] | None) -> bool:
    """This attempt was already answered with this content."""
    if state.attempt != attempt or state.decided_at is None:
        return False
    if decision == "approved":  # the stored result also carries what the case added (the credit code)
        return state.status is StepStatus.APPROVED and all(state.result.get(k) == v for k, v in (result or {}).items())
    if decision == "returned":
        return state.status is StepStatus.RETURNED and state.reasons == [dict(r) for r in reasons]
    if decision == "rejected":
        return state.status is StepStatus.REJECTED and state.reason == reason
    return False


def _set_path(data: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    target: Any = data
    for part in parts[:-1]:
        target = target[int(part)] if isinstance(target, list) else target.setdefault(part, {})
    last = parts[-1]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
