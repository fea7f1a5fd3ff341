"""Use cases: load → domain → save + events, in one transaction each.

:class:`Registration` is built once by the composition root with its dependencies; the
API and the consumers call its methods. Who may do what to which case is decided here,
not in the handlers."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any, Literal, NamedTuple

from pydantic import ValidationError

from contracts import Event
from contracts.events import registration as ev
from contracts.events.crossregion import CaseForwardedV1
from contracts.vocabulary import STEP_DEPARTMENT, Channel
from registration.domain import (
    ApplicantRequired,
    Case,
    ChangeForm,
    CompanyForm,
    DomainError,
    NameTaken,
    NotFound,
    NotYourDepartment,
    Status,
    Step,
    make_uscc,
)
from registration.domain import events as facts
from registration.domain.statistics import Count, Report, counts, local_day, report
from registration.ports import Calendar, DueTimer, Repositories
from servicekit.clock import Clock
from servicekit.events import EventMap, number
from servicekit.ports import Tx, UnitOfWork
from servicekit.principal import Principal
from servicekit.workdays import Deadline

log = logging.getLogger(__name__)

CONSUMER = "registration"
TIME_LIMIT_WORKDAYS = 1
RE_REQUEST, WARNING, OVERDUE = "step_re_request", "deadline_warning", "case_overdue"  # timer kinds
View = Literal["at_risk", "overdue"]

EVENTS = EventMap("/one-window/registration", {
    facts.ApplicationSubmitted: ev.ApplicationSubmittedV1,
    facts.ApplicationIncomplete: ev.ApplicationIncompleteV1,
    facts.ApplicationAccepted: ev.ApplicationAcceptedV1,
    facts.StepRequested: ev.StepRequestedV1,
    facts.StepApproved: ev.StepApprovedV1,
    facts.StepReturned: ev.StepReturnedV1,
    facts.LicenceIssued: ev.LicenceIssuedV1,
    facts.CaseCompleted: ev.CaseCompletedV1,
    facts.CaseRejected: ev.CaseRejectedV1,
    facts.DeadlineWarning: ev.DeadlineWarningV1,
    facts.CaseOverdue: ev.CaseOverdueV1,
    facts.DeadlineRedated: ev.DeadlineRedatedV1,
})


class Submission(NamedTuple):
    case: Case
    created: bool  # False: the same application again (same applicant, same form), answered with its case


def new_case_number(kind: str, now: datetime) -> str:
    prefix = "BG" if kind == "change" else "QY"
    return f"{prefix}{now:%Y%m%d}{secrets.token_hex(4).upper()}"


def _events(case: Case, now: datetime, cause: Event | None = None) -> tuple[list[Event], list[Count]]:
    """The facts the case recorded since it was loaded, as contract events, numbered in the
    case's sequence from its own counter, and what they add to the statistics' tallies: call it
    BEFORE the case is saved; write both in the same transaction."""
    recorded = case.pull_events()
    tallies = counts(kind=case.kind, submitted_at=case.submitted_at, overdue=case.overdue, recorded=recorded, now=now)
    return number(EVENTS.to_events(recorded, subject=case.case_number, now=now,
                                   correlation_id=case.correlation_id, cause=cause), case), tallies


def _deadline_timers(case_number: str) -> list[str]:
    return [f"{case_number}:re-request", f"{case_number}:warning", f"{case_number}:overdue"]


class Registration:
    def __init__(self, *, uow: UnitOfWork[Repositories], calendar: Calendar, clock: Clock,
                 warning_before: timedelta, at_risk_within: timedelta,
                 re_request_before: timedelta = timedelta(0),
                 on_provisional: Callable[[int], None] = lambda year: None) -> None:
        """``re_request_before`` (> 0): that long before the deadline warning, steps still
        unanswered are requested again, and the warning is armed only then.
        ``on_provisional(year)``: a deadline was counted through ``year``, whose schedule the
        calendar does not know (the operators' alert: a metric; a WARNING is logged here)."""
        self.uow, self.calendar, self.clock = uow, calendar, clock
        self.warning_before, self.at_risk_within = warning_before, at_risk_within
        self.re_request_before = re_request_before
        self.on_provisional = on_provisional

    def _alert(self, case_number: str, unknown_years: Sequence[int]) -> None:
        for year in unknown_years:
            log.warning("case %s: provisional due date, counted through %s whose holidays and adjusted working "
                        "days are not known; add config/calendar/CN-%s.toml and restart to re-date it",
                        case_number, year, year)
            self.on_provisional(year)

    # -- applicants and the window -------------------------------------------------------
    async def submit(self, caller: Principal, form: CompanyForm | ChangeForm, *, channel: Channel,
                     applicant_id: str | None = None, applicant_phone: str | None = None) -> Submission:
        """Create the case. Applicants submit for themselves; staff submit at the window for the
        applicant they name. A company's name is held by one case: the same applicant's
        identical form again (a retry) is answered with that case, not refused."""
        if caller.is_staff:
            if not applicant_id:
                raise ApplicantRequired()
            applicant, channel = applicant_id, "window"
        else:
            applicant = caller.sub
        now = self.clock.now()
        kind = "change" if isinstance(form, ChangeForm) else "establishment"

        async def work(tx: Tx[Repositories]) -> Submission:
            case = Case.submit(case_number=new_case_number(kind, now), form=form, applicant_id=applicant,
                               channel=channel, now=now, applicant_phone=applicant_phone)
            events, tallies = _events(case, now)
            await tx.repos.cases.add(case)
            await tx.repos.stats.count(tallies)
            tx.emit(events)
            return Submission(case, created=True)

        try:
            return await self.uow.run(work)
        except NameTaken:
            earlier = await self.uow.read(lambda repos: repos.cases.holding_name(form.company_name))
            if earlier is not None and earlier.is_same_application(applicant, form):
                return Submission(earlier, created=False)
            raise

    async def accept_forwarded(self, event: CaseForwardedV1) -> Case | None:
        """A case forwarded by another region's center (crossregion's event): a case of its own
        here, channel ``other_region``, correlated with the cross-region reference (crossregion
        follows it by that id). Once per event. A form that is not a valid form of the matter
        makes no case: ``ForwardedApplicationRefusedV1`` says why (the origin is told)."""
        now = self.clock.now()
        try:
            form = forwarded_form(event.matter, event.form)
        except DomainError as exc:  # no case: the origin is told why (crossregion follows the reference)
            refused = ev.ForwardedApplicationRefusedV1.caused_by(
                event, source=EVENTS.source, subject=event.reference, case_number=event.reference, time=now,
                reference=event.reference, applicant_id=event.applicant_id, reason=str(exc))

            async def refuse(tx: Tx[Repositories], fresh: list[CaseForwardedV1]) -> None:
                if fresh:
                    tx.emit([refused])

            return await self.uow.consume(CONSUMER, [event], refuse)
        kind = "change" if isinstance(form, ChangeForm) else "establishment"

        async def work(tx: Tx[Repositories], fresh: list[CaseForwardedV1]) -> Case | None:
            if not fresh:
                return None
            case = Case.submit(case_number=new_case_number(kind, now), form=form, applicant_id=event.applicant_id,
                               channel="other_region", now=now, applicant_phone=event.applicant_phone,
                               correlation_id=event.correlation_id)
            events, tallies = _events(case, now, cause=event)
            await tx.repos.cases.add(case)
            await tx.repos.stats.count(tallies)
            tx.emit(events)
            return case

        return await self.uow.consume(CONSUMER, [event], work)

    async def check_at_window(self, caller: Principal, case_number: str, *,
                              defects: Sequence[Mapping[str, str]] = ()) -> Case:
        now = self.clock.now()
        deadline = self.calendar.deadline(now, TIME_LIMIT_WORKDAYS)
        due = deadline.at
        accepted: list[bool] = []  # set when this call accepted the case (not a repeat)

        async def work(tx: Tx[Repositories]) -> Case:
            accepted.clear()
            case = await tx.repos.cases.get(case_number)
            if not case.check_at_window(staff_id=caller.sub, now=now, due_at=due, defects=defects,
                                        due_at_provisional=deadline.provisional):
                return case  # the same check again: the case answers it, nothing is written
            if case.status is Status.ACCEPTED:  # accepted once: its deadline timers cannot exist yet
                accepted.append(True)
                re_request, warning, overdue = _deadline_timers(case_number)
                first = (warning, WARNING, due - self.warning_before)
                if self.re_request_before > timedelta(0):  # the warning is armed when the re-request fires
                    first = (re_request, RE_REQUEST, first[2] - self.re_request_before)
                payload = {"case_number": case_number}
                await tx.repos.timers.schedule_new([(first[0], first[1], max(now, first[2]), payload),
                                                    (overdue, OVERDUE, due, payload)])
            await _save(tx, case, now)
            return case

        case = await self.uow.run(work)
        if accepted:
            self._alert(case_number, deadline.unknown_years)
        return case

    async def redate_provisional(self, limit: int = 10_000) -> int:
        """Recompute the deadline of every open case whose deadline is provisional (at start,
        after an override file arrived): the case takes the new due date, its pending
        deadline timers move with it, and a moved date is recorded (``DeadlineRedatedV1``).
        One transaction per case. Returns how many cases changed; those still provisional
        are alerted again."""
        cases = await self.uow.read(lambda repos: repos.cases.open_provisional(limit))
        changed = 0
        for stale in cases:
            if stale.accepted_at is None:
                continue
            deadline = self.calendar.deadline(stale.accepted_at, TIME_LIMIT_WORKDAYS)
            if deadline.provisional:
                self._alert(stale.case_number, deadline.unknown_years)

            async def work(tx: Tx[Repositories], number: str = stale.case_number,
                           recomputed: Deadline = deadline) -> bool:
                return await self._redate(tx, number, recomputed)

            changed += await self.uow.run(work)
        if changed:
            log.info("re-dated %d case(s) with provisional deadlines", changed)
        return changed

    async def _redate(self, tx: Tx[Repositories], case_number: str, deadline: Deadline) -> bool:
        now = self.clock.now()
        case = await tx.repos.cases.get(case_number)
        previous = case.due_at
        if not case.redate(due_at=deadline.at, provisional=deadline.provisional, now=now):
            return False
        if deadline.at != previous:
            await self._move_timers(tx, case, deadline.at, now)
        await _save(tx, case, now)
        return True

    async def _move_timers(self, tx: Tx[Repositories], case: Case, due: datetime, now: datetime) -> None:
        """Move the case's pending deadline timers to ``due`` (fired ones stay fired)."""
        re_request, warning, overdue = _deadline_timers(case.case_number)
        payload = {"case_number": case.case_number}
        if not case.overdue:
            await tx.repos.timers.schedule(overdue, OVERDUE, due, payload)
        if case.warned:
            return
        warn_at = due - self.warning_before
        # While the re-request is pending it arms the warning; once it fired, the warning is pending.
        if self.re_request_before > timedelta(0) and await tx.repos.timers.schedule(
                re_request, RE_REQUEST, max(now, warn_at - self.re_request_before), payload):
            return
        await tx.repos.timers.schedule(warning, WARNING, max(now, warn_at), payload)

    async def supplement(self, caller: Principal, case_number: str, *, materials: list[str]) -> Case:
        now = self.clock.now()

        async def work(tx: Tx[Repositories]) -> Case:
            case = await tx.repos.cases.get(case_number)
            if not caller.is_staff:  # window staff supplement for the applicant they serve
                _owned_by(case, caller.sub)
            if case.supplement(materials=materials, now=now, by=caller.sub):
                await _save(tx, case, now)
            return case

        return await self.uow.run(work)

    async def correct(self, caller: Principal, case_number: str, *, step: Step, fields: dict[str, Any]) -> Case:
        """The applicant corrects exactly what a department returned; only that step is asked again
        (the licence, if the fix changes what it registers). A new company name is checked and
        held like the first one (NameTaken: nothing changes), and the old one is released."""
        now = self.clock.now()

        async def work(tx: Tx[Repositories]) -> Case:
            case = _owned_by(await tx.repos.cases.get(case_number), caller.sub)
            name = case.form.company_name
            if case.correct(step=step, fields=fields, now=now):
                if case.kind == "establishment" and case.form.company_name != name:
                    await tx.repos.cases.rename(case, name)
                await _save(tx, case, now)
            return case

        return await self.uow.run(work)

    # -- departments -----------------------------------------------------------------------
    async def decide(self, caller: Principal, case_number: str, step: Step, *, decision: str,
                     attempt: int | None = None, reasons: Sequence[Mapping[str, str]] = (),
                     reason: str | None = None, result: dict[str, Any] | None = None) -> Case:
        """A department's reviewer answers its own department's step (default: the current attempt)."""
        if STEP_DEPARTMENT[step] != caller.department:
            raise NotYourDepartment(step, caller.department)
        now = self.clock.now()

        async def work(tx: Tx[Repositories]) -> Case:
            case = await tx.repos.cases.get(case_number)
            current = case.steps[step].attempt if step in case.steps else 0
            closed = await _decide_in(tx, case, step=step, attempt=attempt or current, decision=decision,
                                      reviewer=caller.sub, now=now, reasons=reasons, reason=reason, result=result)
            if closed is None:
                return case  # this answer was recorded before: nothing is written
            if closed:
                await tx.repos.timers.cancel_many(closed)
            await _save(tx, case, now)
            return case

        return await self.uow.run(work)

    async def decide_many(self, answers: list[ev.StepDecidedV1]) -> dict[int, str]:
        """Departments' answers (events), as many as one fetch brought, in ONE transaction: one
        read of the cases, one write of each case touched, one outbox insert, one commit.
        An answer already processed has no second effect. Returns ``{index: reason}`` of the
        answers refused for good (no such case, or the domain refused it): dead-letter them."""
        now = self.clock.now()
        position: dict[str, int] = {}
        for i, e in enumerate(answers):
            position.setdefault(e.event_id, i)

        async def work(tx: Tx[Repositories], fresh: list[ev.StepDecidedV1]) -> dict[int, str]:
            refused: dict[int, str] = {}
            if not fresh:
                return refused
            cases = await tx.repos.cases.get_many(list({e.case_number for e in fresh}))
            touched: dict[str, Case] = {}
            events: list[Event] = []
            tallies: list[Count] = []
            closed: list[str] = []
            for e in fresh:  # in fetch order: one case's answers stay in order
                case = cases.get(e.case_number)
                try:
                    if case is None:
                        raise NotFound(f"no case {e.case_number}")
                    done = await _decide_in(tx, case, step=Step(e.step), attempt=e.attempt, decision=e.decision,
                                            reviewer=e.reviewer_id, now=now,
                                            reasons=[r.model_dump() for r in e.reasons], reason=e.reason,
                                            result=e.result)
                except DomainError as exc:
                    refused[position[e.event_id]] = f"{type(exc).__name__}: {exc}"
                    continue
                if done is None:  # the same answer again (another event id): no second effect
                    continue
                closed += done
                case_events, case_tallies = _events(case, now, cause=e)
                events += case_events
                tallies += case_tallies
                touched[case.case_number] = case
            if closed:
                await tx.repos.timers.cancel_many(closed)
            if touched:
                await tx.repos.cases.save_many(list(touched.values()))
                await tx.repos.stats.count(tallies)
            tx.emit(events)
            return refused

        return await self.uow.consume(CONSUMER, answers, work)

    # -- supervision -----------------------------------------------------------------------
    async def assign_helper(self, caller: Principal, case_number: str, *, helper_id: str) -> Case:
        now = self.clock.now()

        async def work(tx: Tx[Repositories]) -> Case:
            case = await tx.repos.cases.get(case_number)
            if case.assign_helper(helper_id=helper_id, by=caller.sub, now=now):
                await _save(tx, case, now)
            return case

        return await self.uow.run(work)

    async def on_timer(self, tx: Tx[Repositories], timer: DueTimer) -> None:
        """A deadline timer fired (exactly once, inside the sweeper's transaction). Re-request
        first: steps still unanswered are asked again, then the deadline warning is armed."""
        now = self.clock.now()
        try:
            case = await tx.repos.cases.get(timer.payload["case_number"])
        except NotFound:
            return
        if timer.kind == RE_REQUEST:
            changed = bool(case.re_request(now))
            if case.status is Status.ACCEPTED and case.due_at is not None:
                await tx.repos.timers.schedule(f"{case.case_number}:warning", WARNING,
                                               max(now, case.due_at - self.warning_before),
                                               {"case_number": case.case_number})
        else:
            changed = case.warn(now) if timer.kind == WARNING else case.mark_overdue(now)
        if changed:
            await _save(tx, case, now)

    # -- reads ---------------------------------------------------------------------------------
    async def statistics(self, month: str) -> Report:
        """The month's figures per matter kind and today's counts (from the running tallies)."""
        today = local_day(self.clock.now())
        sums = await self.uow.read(lambda repos: repos.stats.sums([month, today]))
        return report(month, date.fromisoformat(today), sums)

    async def today(self) -> Report:
        """Today's counts (the hall screen's; no personal data)."""
        today = local_day(self.clock.now())
        sums = await self.uow.read(lambda repos: repos.stats.sums([today]))
        return report(today[:7], date.fromisoformat(today), sums)

    async def get_case(self, caller: Principal, case_number: str) -> Case:
        """Staff read any case; applicants and partner agencies only their own."""

        async def read(repos: Repositories) -> Case:
            case = await repos.cases.get(case_number)
            return case if caller.is_staff else _owned_by(case, caller.sub)

        return await self.uow.read(read)

    async def cases_at_risk(self, view: View, limit: int = 200) -> list[Case]:
        """Open accepted cases overdue, or due within ``at_risk_within``, earliest first."""
        now = self.clock.now()
        horizon = now if view == "overdue" else now + self.at_risk_within

        async def read(repos: Repositories) -> list[Case]:
            cases = await repos.cases.open_due_before(horizon, limit)
            return cases if view == "overdue" else [c for c in cases if c.due_at and c.due_at > now]

        return await self.uow.read(read)


async def _save(tx: Tx[Repositories], case: Case, now: datetime) -> None:
    events, tallies = _events(case, now)
    await tx.repos.cases.save(case)
    await tx.repos.stats.count(tallies)
    tx.emit(events)


async def _decide_in(tx: Tx[Repositories], case: Case, *, step: Step, attempt: int, decision: str, reviewer: str,
                     now: datetime, reasons: Sequence[Mapping[str, str]], reason: str | None,
                     result: dict[str, Any] | None) -> list[str] | None:
    """Apply one answer to a loaded case inside ``tx``: the credit code when the licence is
    issued, the name released on rejection. Returns the timer keys to cancel if it closed,
    or None if the case had recorded this answer already (nothing changed)."""
    uscc = None
    if case.needs_code(step, decision):
        division = case.division_code
        uscc = make_uscc(division, await tx.repos.cases.next_code_sequence(division))
    if not case.decide(step=step, attempt=attempt, decision=decision, now=now, reviewer=reviewer, reasons=reasons,
                       reason=reason, result=result, uscc=uscc):
        return None
    if case.is_open:
        return []
    if case.status is Status.REJECTED:
        await tx.repos.cases.release_name(case)
    return _deadline_timers(case.case_number)


def forwarded_form(matter: str, data: Mapping[str, Any]) -> CompanyForm | ChangeForm:
    """The forwarded form as the matter's form; DomainError (with every bad field) if it is not one."""
    model = ChangeForm if matter == "licence_change" else CompanyForm
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:10])
        raise DomainError(f"forwarded {matter} form is not valid: {fields}") from exc


def _owned_by(case: Case, applicant_id: str) -> Case:
    if case.applicant_id != applicant_id:
        raise NotFound(f"no case {case.case_number}")
    return case
