"""Use cases: load → domain → save + events, in one transaction each."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from contracts import Event
from contracts.events import registration as ev
from registration.domain import (
    DEPARTMENT,
    Case,
    ChangeForm,
    CompanyForm,
    DomainError,
    DuplicateSubmission,
    Fact,
    NotFound,
    Status,
    Step,
)
from registration.domain.codes import make_uscc
from registration.ports import Calendar, Tx, UnitOfWork

SOURCE = "/one-window/registration"
CONSUMER = "registration"
TIME_LIMIT_WORKDAYS = 1

EVENTS: dict[str, type[Event]] = {
    "application_submitted": ev.ApplicationSubmittedV1,
    "application_incomplete": ev.ApplicationIncompleteV1,
    "application_accepted": ev.ApplicationAcceptedV1,
    "step_requested": ev.StepRequestedV1,
    "step_approved": ev.StepApprovedV1,
    "step_returned": ev.StepReturnedV1,
    "licence_issued": ev.LicenceIssuedV1,
    "case_completed": ev.CaseCompletedV1,
    "case_rejected": ev.CaseRejectedV1,
    "deadline_warning": ev.DeadlineWarningV1,
    "case_overdue": ev.CaseOverdueV1,
}


def to_events(case: Case, facts: Iterable[Fact], now: datetime, cause: Event | None = None) -> list[Event]:
    """Turn the domain's facts into integration events with the CloudEvents envelope."""
    return [
        EVENTS[f.name](
            **f.data, source=SOURCE, subject=case.case_number, case_number=case.case_number, time=now,
            correlation_id=cause.correlation_id if cause else case.correlation_id,
            causation_id=cause.event_id if cause else None,
        )
        for f in facts
    ]


def new_case_number(kind: str, now: datetime) -> str:
    prefix = "BG" if kind == "change" else "QY"
    return f"{prefix}{now:%Y%m%d}{secrets.token_hex(4).upper()}"


async def _commit(tx: Tx, case: Case, now: datetime, cause: Event | None = None) -> None:
    await tx.cases.save(case)
    tx.emit(to_events(case, case.pull_facts(), now, cause))


async def submit(*, uow: UnitOfWork, form: CompanyForm | ChangeForm, applicant_id: str, channel: str, now: datetime,
                 applicant_phone: str | None = None, idempotency_key: str | None = None) -> tuple[Case, bool]:
    """Create the case once; a retried submission (same key) returns the same case. -> (case, created)"""
    kind = "change" if isinstance(form, ChangeForm) else "establishment"

    async def work(tx: Tx) -> tuple[Case, bool]:
        if idempotency_key:
            earlier = await tx.cases.by_idempotency_key(applicant_id, idempotency_key)
            if earlier is not None:
                return earlier, False
        case = Case.submit(case_number=new_case_number(kind, now), form=form, applicant_id=applicant_id,
                           channel=channel, now=now, applicant_phone=applicant_phone, idempotency_key=idempotency_key)
        await tx.cases.add(case)
        tx.emit(to_events(case, case.pull_facts(), now))
        return case, True

    try:
        result = await uow.run(work)
    except DuplicateSubmission:  # a concurrent retry won the race
        result = await uow.run(work)
    assert result is not None
    return result


async def _load(tx: Tx, case_number: str) -> Case:
    case = await tx.cases.get(case_number)
    if case is None:
        raise NotFound(f"no case {case_number}")
    return case


async def check_at_window(*, uow: UnitOfWork, calendar: Calendar, case_number: str, staff_id: str, now: datetime,
                          defects: list[dict[str, str]], warning_before: timedelta) -> Case:
    due = calendar.add_workdays(now, TIME_LIMIT_WORKDAYS)

    async def work(tx: Tx) -> Case:
        case = await _load(tx, case_number)
        case.check_at_window(staff_id=staff_id, now=now, due_at=due, defects=defects)
        if case.status is Status.ACCEPTED:  # accepted once: its deadline timers cannot exist yet
            await tx.timers.schedule_new([
                (f"{case_number}:warning", "deadline_warning", max(now, due - warning_before),
                 {"case_number": case_number}),
                (f"{case_number}:overdue", "case_overdue", due, {"case_number": case_number})])
        await _commit(tx, case, now)
        return case

    return await _run(uow, work)


async def supplement(*, uow: UnitOfWork, case_number: str, applicant_id: str, materials: list[str],
                     now: datetime) -> Case:
    async def work(tx: Tx) -> Case:
        case = await _owned(tx, case_number, applicant_id)
        case.supplement(materials=materials, now=now)
        await _commit(tx, case, now)
        return case

    return await _run(uow, work)


async def decide(*, uow: UnitOfWork, case_number: str, step: Step, attempt: int | None, decision: str,
                 reviewer: str, now: datetime, reasons: list[dict[str, str]] | None = None, reason: str | None = None,
                 result: dict[str, Any] | None = None, cause: Event | None = None) -> Case | None:
    """A department's answer, from its reviewer over HTTP or from its system as an event.
    An event already processed (same id) has no second effect."""

    async def work(tx: Tx) -> Case:
        if cause is not None:
            await tx.mark_processed(CONSUMER, cause.event_id)
        case = await _load(tx, case_number)
        current = case.steps[step].attempt if step in case.steps else 0
        closed = await _decide_in(tx, case, step=step, attempt=attempt or current, decision=decision,
                                  reviewer=reviewer, now=now, reasons=reasons or [], reason=reason, result=result)
        if closed:
            await tx.timers.cancel_many(closed)
        await _commit(tx, case, now, cause)
        return case

    return await uow.run(work)


async def _decide_in(tx: Tx, case: Case, *, step: Step, attempt: int, decision: str, reviewer: str, now: datetime,
                     reasons: list[dict[str, str]], reason: str | None, result: dict[str, Any] | None) -> list[str]:
    """Apply one answer to a loaded case inside ``tx``: the credit code when the licence is
    issued, the name released on rejection. Returns the timer keys to cancel if it closed."""
    uscc = None
    if case.needs_code(step, decision):
        division = case.form.address.division_code  # type: ignore[union-attr]
        uscc = make_uscc(division, await tx.cases.next_code_sequence(division))
    case.decide(step=step, attempt=attempt, decision=decision, now=now, reviewer=reviewer, reasons=reasons,
                reason=reason, result=result, uscc=uscc)
    if case.is_open:
        return []
    if case.status is Status.REJECTED:
        await tx.cases.release_name(case)
    return [f"{case.case_number}:warning", f"{case.case_number}:overdue"]


async def decide_many(*, uow: UnitOfWork, answers: list[ev.StepDecidedV1], now: datetime) -> dict[int, str]:
    """Departments' answers (events), as many as one fetch brought, in ONE transaction: one
    read of the cases, one write of each case touched, one outbox insert, one commit.
    An answer already processed has no second effect. Returns ``{index: reason}`` of the
    answers refused for good (no such case, or the domain refused it): dead-letter them."""

    async def work(tx: Tx) -> dict[int, str]:
        refused: dict[int, str] = {}
        done = await tx.processed_among(CONSUMER, [e.event_id for e in answers])
        fresh: list[tuple[int, ev.StepDecidedV1]] = []
        for i, e in enumerate(answers):
            if e.event_id not in done:
                done.add(e.event_id)
                fresh.append((i, e))
        if not fresh:
            return refused
        await tx.mark_processed_many(CONSUMER, [e.event_id for _, e in fresh])
        cases = await tx.cases.get_many(list({e.case_number for _, e in fresh}))
        touched: dict[str, Case] = {}
        events: list[Event] = []
        closed: list[str] = []
        for i, e in fresh:  # in fetch order: one case's answers stay in order
            case = cases.get(e.case_number)
            if case is None:
                refused[i] = f"NotFound: no case {e.case_number}"
                continue
            try:
                closed += await _decide_in(tx, case, step=Step(e.step), attempt=e.attempt, decision=e.decision,
                                           reviewer=e.reviewer_id, now=now, reasons=[r.model_dump() for r in e.reasons],
                                           reason=e.reason, result=e.result)
            except DomainError as exc:
                refused[i] = f"{type(exc).__name__}: {exc}"
                continue
            events += to_events(case, case.pull_facts(), now, e)
            touched[case.case_number] = case
        if closed:
            await tx.timers.cancel_many(closed)
        if touched:
            await tx.cases.save_many(list(touched.values()))
        tx.emit(events)
        return refused

    return await uow.run(work) or {}


class NotYourDepartment(DomainError):
    """A reviewer may act only on its own department's steps."""


def ensure_reviewer_may_decide(*, department: str | None, step: Step) -> None:
    if DEPARTMENT[step] != department:
        raise NotYourDepartment(f"the {step.value} step belongs to {DEPARTMENT[step]}, not {department}")


async def correct(*, uow: UnitOfWork, case_number: str, applicant_id: str, step: Step, fields: dict[str, Any],
                  now: datetime) -> Case:
    async def work(tx: Tx) -> Case:
        case = await _owned(tx, case_number, applicant_id)
        case.correct(step=step, fields=fields, now=now)
        await _commit(tx, case, now)
        return case

    return await _run(uow, work)


async def assign_helper(*, uow: UnitOfWork, case_number: str, helper_id: str, by: str, now: datetime) -> Case:
    async def work(tx: Tx) -> Case:
        case = await _load(tx, case_number)
        case.assign_helper(helper_id=helper_id, by=by, now=now)
        await _commit(tx, case, now)
        return case

    return await _run(uow, work)


async def on_timer(tx: Tx, *, kind: str, case_number: str, now: datetime) -> None:
    """A deadline timer fired (exactly once, inside the sweeper's transaction)."""
    case = await tx.cases.get(case_number)
    if case is None:
        return
    changed = case.warn(now) if kind == "deadline_warning" else case.mark_overdue(now)
    if changed:
        await _commit(tx, case, now)


async def get_case(*, uow: UnitOfWork, case_number: str, applicant_id: str | None) -> Case:
    """Staff read any case (``applicant_id`` None); applicants only their own."""

    async def work(tx: Tx) -> Case:
        return await (_owned(tx, case_number, applicant_id) if applicant_id else _load(tx, case_number))

    return await uow.read(work)


async def cases_at_risk(*, uow: UnitOfWork, now: datetime, view: str, at_risk_within: timedelta,
                        limit: int = 200) -> list[Case]:
    """Open accepted cases overdue, or due within ``at_risk_within``, earliest first."""

    async def work(tx: Tx) -> list[Case]:
        horizon = now if view == "overdue" else now + at_risk_within
        cases = await tx.cases.open_due_before(horizon, limit)
        return cases if view == "overdue" else [c for c in cases if c.due_at and c.due_at > now]

    return await uow.read(work)


async def _owned(tx: Tx, case_number: str, applicant_id: str) -> Case:
    case = await _load(tx, case_number)
    if case.applicant_id != applicant_id:
        raise NotFound(f"no case {case_number}")
    return case


async def _run(uow: UnitOfWork, work: Any) -> Case:
    case = await uow.run(work)
    assert case is not None
    return case
