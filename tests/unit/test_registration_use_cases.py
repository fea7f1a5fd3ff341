"""Registration's use cases over the shared fake unit of work and in-memory repositories:
who may do what, idempotency, events out, timers, version conflicts. No I/O."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from contracts.events import registration as ev
from registration.domain import (
    ApplicantRequired,
    Case,
    CompanyForm,
    InvalidState,
    MaterialNotListed,
    NameTaken,
    NotFound,
    NotYourDepartment,
    ReturnNotAllowed,
    StaleDecision,
    Status,
    Step,
)
from registration.domain.statistics import Count
from registration.service import Registration
from servicekit.aggregate import ConcurrentUpdate
from servicekit.auth import Principal, Role
from servicekit.clock import FrozenClock
from servicekit.workdays import Deadline, WorkdayCalendar
from tests.support.events import make
from tests.support.fakes import FakeTimers, FakeUnitOfWork
from tests.support.forms import company_form

T0 = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
APPLICANT = Principal("u-1", Role.APPLICANT)
STAFF = Principal("w-1", Role.WINDOW_STAFF)


class InMemoryCases:
    """``ports.CaseRepository`` in memory: stores copies, checks versions like the real one."""

    def __init__(self) -> None:
        self.rows: dict[str, Case] = {}
        self.names: dict[str, str] = {}
        self.sequences: dict[str, int] = {}

    async def add(self, case: Case) -> None:
        if case.kind == "establishment":
            if case.form.company_name in self.names:
                raise NameTaken(case.form.company_name)
            self.names[case.form.company_name] = case.case_number
        case.version = 1
        self._store(case)

    async def get(self, case_number: str) -> Case:
        if case_number not in self.rows:
            raise NotFound(f"no case {case_number}")
        return copy.deepcopy(self.rows[case_number])

    async def get_many(self, case_numbers: list[str]) -> dict[str, Case]:
        return {n: copy.deepcopy(self.rows[n]) for n in case_numbers if n in self.rows}

    async def holding_name(self, company_name: str) -> Case | None:
        number = self.names.get(company_name)
        return copy.deepcopy(self.rows[number]) if number else None

    async def save(self, case: Case) -> None:
        await self.save_many([case])

    async def save_many(self, cases: list[Case]) -> None:
        for case in cases:
            if self.rows[case.case_number].version != case.version:
                raise ConcurrentUpdate(f"case {case.case_number} changed meanwhile")
        for case in cases:
            case.version += 1
            self._store(case)

    async def rename(self, case: Case, old_name: str) -> None:
        if self.names.get(case.form.company_name, case.case_number) != case.case_number:
            raise NameTaken(case.form.company_name)
        self.names[case.form.company_name] = case.case_number
        if self.names.get(old_name) == case.case_number and old_name != case.form.company_name:
            del self.names[old_name]

    async def release_name(self, case: Case) -> None:
        if self.names.get(case.form.company_name) == case.case_number:
            del self.names[case.form.company_name]

    async def open_due_before(self, before: datetime, limit: int) -> list[Case]:
        due = [c for c in self.rows.values() if c.status is Status.ACCEPTED and c.due_at and c.due_at <= before]
        return [copy.deepcopy(c) for c in sorted(due, key=lambda c: c.due_at or before)[:limit]]

    async def open_provisional(self, limit: int) -> list[Case]:
        rows = [c for c in self.rows.values() if c.status is Status.ACCEPTED and c.due_at_provisional]
        return [copy.deepcopy(c) for c in rows[:limit]]

    async def next_code_sequence(self, division_code: str) -> int:
        self.sequences[division_code] = self.sequences.get(division_code, 0) + 1
        return self.sequences[division_code]

    def _store(self, case: Case) -> None:
        stored = copy.deepcopy(case)
        stored.pull_events()
        self.rows[case.case_number] = stored


class RacedCases(InMemoryCases):
    """Another writer saves the case between each of the first ``races`` loads and their save."""

    def __init__(self, races: int) -> None:
        super().__init__()
        self.races = races

    async def get(self, case_number: str) -> Case:
        case = await super().get(case_number)
        if self.races:
            self.races -= 1
            self.rows[case_number].version += 1
        return case


class InMemoryStats:
    """``ports.StatsRepository`` in memory."""

    def __init__(self) -> None:
        self.n: dict[tuple[str, str, str], int] = {}

    async def count(self, counts: list[Count]) -> None:
        for c in counts:
            self.n[(c.period, c.kind, c.measure)] = self.n.get((c.period, c.kind, c.measure), 0) + c.n

    async def sums(self, periods: list[str]) -> dict[tuple[str, str, str], int]:
        return {k: v for k, v in self.n.items() if k[0] in periods}


@dataclass
class Repos:
    cases: InMemoryCases = field(default_factory=InMemoryCases)
    timers: FakeTimers = field(default_factory=FakeTimers)
    stats: InMemoryStats = field(default_factory=InMemoryStats)


class OneDay:
    def deadline(self, start: datetime, n: int) -> Deadline:
        return Deadline(start + timedelta(days=n))


def registration(cases: InMemoryCases | None = None) -> tuple[Registration, FakeUnitOfWork[Repos]]:
    uow = FakeUnitOfWork(Repos(cases or InMemoryCases()))
    return Registration(uow=uow, calendar=OneDay(), clock=FrozenClock(T0), warning_before=timedelta(hours=4),
                        at_risk_within=timedelta(hours=4)), uow


def reviewer(step: Step) -> Principal:
    department = {Step.LICENCE: "market_supervision", Step.SEAL: "public_security", Step.TAX: "tax",
                  Step.SOCIAL_SECURITY: "human_resources_social_security"}[step]
    return Principal(f"r-{step}", Role.REVIEWER, department=department)


def answer(case: str, step: Step, attempt: int = 1, decision: str = "approved", **kw: object) -> ev.StepDecidedV1:
    return make(ev.StepDecidedV1, case, source="/one-window/departments", step=step.value,
                department=reviewer(step).department, attempt=attempt, decision=decision, reviewer_id="sys", **kw)


def emitted(uow: FakeUnitOfWork[Repos], *types: type) -> list:
    return [e for e in uow.emitted if not types or isinstance(e, types)]


async def accepted_case(reg: Registration, name: str = "兰州一窗科技有限公司") -> str:
    submission = await reg.submit(APPLICANT, CompanyForm.model_validate(company_form(name)), channel="web")
    await reg.check_at_window(STAFF, submission.case.case_number)
    return submission.case.case_number


async def test_the_same_application_again_returns_its_case_and_emits_once() -> None:
    reg, uow = registration()
    form = CompanyForm.model_validate(company_form())
    first = await reg.submit(APPLICANT, form, channel="web")
    again = await reg.submit(APPLICANT, form, channel="web")  # retried without a key: recognised
    assert first.created and not again.created
    assert again.case.case_number == first.case.case_number
    assert [e.case_number for e in emitted(uow, ev.ApplicationSubmittedV1)] == [first.case.case_number]
    with pytest.raises(NameTaken):  # another applicant, or another form, for the same name
        await reg.submit(Principal("u-2", Role.APPLICANT), form, channel="web")
    with pytest.raises(NameTaken):
        await reg.submit(APPLICANT, form.model_copy(update={"business_scope": ["餐饮服务"]}), channel="web")


async def test_commands_retried_after_a_lost_reply_answer_with_the_case_and_change_nothing() -> None:
    reg, uow = registration()
    case = await accepted_case(reg)
    stored = uow.repos.cases.rows
    emitted_before, version = len(uow.emitted), stored[case].version
    again = await reg.check_at_window(STAFF, case)  # no second acceptance, timers not armed twice
    assert again.status is Status.ACCEPTED and again.case_number == case
    assert len(uow.emitted) == emitted_before and stored[case].version == version
    with pytest.raises(InvalidState):
        await reg.check_at_window(Principal("w-2", Role.WINDOW_STAFF), case)
    licence = reviewer(Step.LICENCE)
    first = await reg.decide(licence, case, Step.LICENCE, decision="approved")
    emitted_before, version = len(uow.emitted), stored[case].version
    again = await reg.decide(licence, case, Step.LICENCE, decision="approved", attempt=1)
    assert again.uscc == first.uscc and len(uow.emitted) == emitted_before and stored[case].version == version
    assert uow.repos.cases.sequences == {"620102": 1}  # no second credit code drawn
    with pytest.raises(StaleDecision):
        await reg.decide(licence, case, Step.LICENCE, decision="returned", attempt=1,
                         reasons=[{"field": "company_name", "reason": "x"}])
    supervisor = Principal("s-1", Role.SUPERVISOR)
    await reg.assign_helper(supervisor, case, helper_id="h-1")
    version = stored[case].version
    assert (await reg.assign_helper(supervisor, case, helper_id="h-1")).helper_id == "h-1"
    assert stored[case].version == version


async def test_a_duplicate_answer_under_another_event_id_is_no_effect_and_not_dead_lettered() -> None:
    reg, uow = registration()
    case = await accepted_case(reg)
    assert await reg.decide_many([answer(case, Step.LICENCE)]) == {}
    count = len(uow.emitted)
    assert await reg.decide_many([answer(case, Step.LICENCE)]) == {}  # same content, new event id
    assert len(uow.emitted) == count


async def test_staff_submit_at_the_window_for_the_applicant_they_name() -> None:
    reg, uow = registration()
    form = CompanyForm.model_validate(company_form())
    with pytest.raises(ApplicantRequired):
        await reg.submit(STAFF, form, channel="web")
    assert uow.emitted == []
    by_staff = await reg.submit(STAFF, form, channel="web", applicant_id="u-9")
    assert (by_staff.case.applicant_id, by_staff.case.channel) == ("u-9", "window")
    other = CompanyForm.model_validate(company_form("兰州另一家科技有限公司"))
    own = await reg.submit(APPLICANT, other, channel="app", applicant_id="u-9")  # an applicant submits for itself
    assert (own.case.applicant_id, own.case.channel) == ("u-1", "app")


async def test_applicants_and_agencies_read_only_their_own_cases_staff_read_any() -> None:
    reg, _ = registration()
    case = await accepted_case(reg)
    assert (await reg.get_case(APPLICANT, case)).case_number == case
    assert (await reg.get_case(Principal("h-1", Role.HELPER), case)).case_number == case
    for stranger in (Principal("u-2", Role.APPLICANT), Principal("u-2", Role.PARTNER_AGENCY, agency_id="a-1")):
        with pytest.raises(NotFound):
            await reg.get_case(stranger, case)
    with pytest.raises(NotFound):
        await reg.supplement(Principal("u-2", Role.APPLICANT), case, materials=["x"])


async def test_acceptance_arms_both_deadlines_and_a_rejection_cancels_them_and_frees_the_name() -> None:
    reg, uow = registration()
    case = await accepted_case(reg)
    due = T0 + timedelta(days=1)
    assert uow.repos.timers.pending == {
        f"{case}:warning": ("deadline_warning", due - timedelta(hours=4), {"case_number": case}),
        f"{case}:overdue": ("case_overdue", due, {"case_number": case})}
    reg.re_request_before = timedelta(hours=2)
    other = await accepted_case(reg, "兰州另一家科技有限公司")  # re-requesting first: the warning comes after
    assert {k: v for k, v in uow.repos.timers.pending.items() if k.startswith(other)} == {
        f"{other}:re-request": ("step_re_request", due - timedelta(hours=6), {"case_number": other}),
        f"{other}:overdue": ("case_overdue", due, {"case_number": other})}
    await reg.decide(reviewer(Step.LICENCE), other, Step.LICENCE, decision="rejected", reason="名称含禁用字词")
    rejected = await reg.decide(reviewer(Step.LICENCE), case, Step.LICENCE, decision="rejected", reason="名称含禁用字词")
    assert rejected.status is Status.REJECTED and uow.repos.timers.pending == {}
    await accepted_case(reg)  # the same name again


async def test_a_reviewer_decides_only_their_departments_step() -> None:
    reg, uow = registration()
    case = await accepted_case(reg)
    before = len(uow.emitted)
    with pytest.raises(NotYourDepartment):
        await reg.decide(reviewer(Step.TAX), case, Step.LICENCE, decision="approved")
    assert len(uow.emitted) == before
    done = await reg.decide(reviewer(Step.LICENCE), case, Step.LICENCE, decision="approved")
    assert done.uscc and done.steps[Step.LICENCE].attempt == 1


async def test_decide_many_refuses_an_unknown_case_with_a_reason_and_applies_the_rest_once() -> None:
    reg, uow = registration()
    case = await accepted_case(reg)
    licence = answer(case, Step.LICENCE)
    batch = [licence, answer("QY-NOPE", Step.LICENCE), licence, answer(case, Step.TAX, attempt=7)]
    refused = await reg.decide_many(batch)
    assert refused == {1: "NotFound: no case QY-NOPE", 3: "StaleDecision: tax attempt 7 is not awaiting a decision"}
    approved = emitted(uow, ev.StepApprovedV1)
    assert [(e.step, e.causation_id) for e in approved] == [("licence", licence.event_id)]
    requested = [e.step for e in emitted(uow, ev.StepRequestedV1)]
    assert requested == ["licence", "seal", "tax", "social_security"]
    assert all(e.correlation_id == licence.correlation_id for e in emitted(uow, ev.LicenceIssuedV1))
    count = len(uow.emitted)
    assert await reg.decide_many(batch) == {}  # delivered again: no second effect, nothing to dead-letter
    assert len(uow.emitted) == count


async def test_a_returned_step_then_its_correction_requests_only_that_step_again() -> None:
    reg, uow = registration()
    case = await accepted_case(reg)
    await reg.decide_many([answer(case, Step.LICENCE)])
    returned = answer(case, Step.TAX, decision="returned",
                      reasons=[{"field": "tax.taxpayer_type", "reason": "应登记为一般纳税人"}])
    assert await reg.decide_many([returned]) == {}
    assert [e.step for e in emitted(uow, ev.StepReturnedV1)] == ["tax"]
    before = len(uow.emitted)
    corrected = await reg.correct(APPLICANT, case, step=Step.TAX, fields={"tax.taxpayer_type": "general"})
    assert [(e.step, e.attempt) for e in emitted(uow)[before:]] == [("tax", 2)]
    assert {s: st.attempt for s, st in corrected.steps.items()} == {
        Step.LICENCE: 1, Step.SEAL: 1, Step.TAX: 2, Step.SOCIAL_SECURITY: 1}


async def test_a_concurrent_save_runs_the_use_case_again_on_fresh_state() -> None:
    cases = RacedCases(races=0)
    reg, _ = registration(cases)
    case = await accepted_case(reg)
    cases.races = 1
    done = await reg.assign_helper(Principal("s-1", Role.SUPERVISOR), case, helper_id="h-1")
    assert done.helper_id == "h-1"
    assert [h.action for h in done.history].count("helper_assigned") == 1
    assert cases.rows[case].version == done.version


async def test_a_conflict_that_keeps_happening_propagates_after_the_retries() -> None:
    cases = RacedCases(races=0)
    reg, uow = registration(cases)
    case = await accepted_case(reg)
    cases.races = 99
    with pytest.raises(ConcurrentUpdate):
        await reg.assign_helper(Principal("s-1", Role.SUPERVISOR), case, helper_id="h-1")
    assert cases.races == 99 - uow.conflict_attempts
    assert cases.rows[case].helper_id is None


@dataclass(frozen=True)
class Fired:
    kind: str
    payload: dict[str, str]


async def test_unanswered_steps_are_requested_again_before_the_case_is_escalated() -> None:
    reg, uow = registration()
    reg.re_request_before = timedelta(hours=2)
    case = await accepted_case(reg)
    await reg.decide_many([answer(case, Step.LICENCE), answer(case, Step.SEAL)])
    before = len(uow.emitted)
    await uow.run(lambda tx: reg.on_timer(tx, Fired("step_re_request", {"case_number": case})))
    again = emitted(uow, ev.StepRequestedV1)[-2:]
    assert len(uow.emitted) == before + 2 and not emitted(uow, ev.DeadlineWarningV1)  # not escalated yet
    assert [(e.step, e.attempt, e.re_request) for e in again] == [("tax", 1, True), ("social_security", 1, True)]
    assert uow.repos.timers.pending[f"{case}:warning"] == (
        "deadline_warning", T0 + timedelta(days=1, hours=-4), {"case_number": case})
    # The department answers both requests; the second answer has no effect and is not refused.
    first, repeat = answer(case, Step.TAX), answer(case, Step.TAX)
    assert await reg.decide_many([first, repeat]) == {}
    assert [e.causation_id for e in emitted(uow, ev.StepApprovedV1) if e.step == "tax"] == [first.event_id]
    await uow.run(lambda tx: reg.on_timer(tx, Fired("deadline_warning", {"case_number": case})))
    assert emitted(uow, ev.DeadlineWarningV1)[0].pending_steps == ["social_security"]


async def test_a_closed_case_is_neither_requested_again_nor_warned() -> None:
    reg, uow = registration()
    reg.re_request_before = timedelta(hours=2)
    case = await accepted_case(reg)
    await reg.decide_many([answer(case, Step.LICENCE, decision="rejected", reason="名称含禁用字词")])
    before = len(uow.emitted)
    await uow.run(lambda tx: reg.on_timer(tx, Fired("step_re_request", {"case_number": case})))
    assert len(uow.emitted) == before and uow.repos.timers.pending == {}


def test_the_simulated_departments_answer_a_request_asked_again_with_the_same_event() -> None:
    from devstack.simulators import Script

    script = Script.parse(["tax@1=tax.taxpayer_type"], [])
    request = make(ev.StepRequestedV1, "QY1", step="tax", department="tax", attempt=1, due_at=T0, form={})
    first = script.answer(request)
    again = script.answer(request.model_copy(update={"event_id": "another", "re_request": True}))
    assert again == first and first.decision == "returned"  # same ce_id: the consumer's idempotency drops it
    corrected = script.answer(request.model_copy(update={"attempt": 2}))
    assert corrected.event_id != first.event_id and corrected.decision == "approved"


async def test_window_staff_supplement_materials_for_the_applicant_only_listed_ones() -> None:
    reg, uow = registration()
    submission = await reg.submit(APPLICANT, CompanyForm.model_validate(company_form(materials=[])), channel="web")
    case = submission.case.case_number
    await reg.check_at_window(STAFF, case)
    version = uow.repos.cases.rows[case].version
    with pytest.raises(MaterialNotListed):
        await reg.supplement(APPLICANT, case, materials=["foo"])
    assert uow.repos.cases.rows[case].status is Status.INCOMPLETE and uow.repos.cases.rows[case].version == version
    with pytest.raises(NotFound):  # another applicant
        await reg.supplement(Principal("u-2", Role.APPLICANT), case, materials=["address_proof"])
    done = await reg.supplement(Principal("w-2", Role.WINDOW_STAFF), case, materials=[
        "legal_representative_id", "address_proof", "articles_of_association", "investor_ids"])
    assert done.status is Status.SUBMITTED and done.history[-1].actor == "w-2"


async def test_a_department_returning_anothers_field_is_refused_over_http_and_dead_lettered() -> None:
    reg, uow = registration()
    case = await accepted_case(reg)
    await reg.decide(reviewer(Step.LICENCE), case, Step.LICENCE, decision="approved")
    with pytest.raises(ReturnNotAllowed):
        await reg.decide(reviewer(Step.TAX), case, Step.TAX, decision="returned",
                         reasons=[{"field": "company_name", "reason": "x"}])
    refused = await reg.decide_many([answer(case, Step.TAX, decision="returned",
                                            reasons=[{"field": "company_name", "reason": "x"}])])
    assert list(refused) == [0] and "ReturnNotAllowed" in refused[0]
    assert uow.repos.cases.rows[case].steps[Step.TAX].status.value == "requested"


async def test_a_corrected_company_name_is_checked_and_held_and_the_old_one_released() -> None:
    reg, uow = registration()
    taken = await accepted_case(reg, "兰州已有名称科技有限公司")
    case = await accepted_case(reg)
    await reg.decide(reviewer(Step.LICENCE), case, Step.LICENCE, decision="returned",
                     reasons=[{"field": "company_name", "reason": "名称含禁用字词"}])
    version = uow.repos.cases.rows[case].version
    with pytest.raises(NameTaken):
        await reg.correct(APPLICANT, case, step=Step.LICENCE, fields={"company_name": "兰州已有名称科技有限公司"})
    assert uow.repos.cases.rows[case].version == version
    assert uow.repos.cases.names["兰州已有名称科技有限公司"] == taken
    fixed = await reg.correct(APPLICANT, case, step=Step.LICENCE, fields={"company_name": "兰州改名科技有限公司"})
    assert fixed.steps[Step.LICENCE].attempt == 2 and fixed.form.company_name == "兰州改名科技有限公司"
    assert uow.repos.cases.names.get("兰州改名科技有限公司") == case
    assert "兰州一窗科技有限公司" not in uow.repos.cases.names  # free for another company
    await accepted_case(reg, "兰州一窗科技有限公司")


# -- deadlines beyond the known calendar ------------------------------------------------------
NYE = datetime(2026, 12, 31, 2, 0, tzinfo=UTC)  # Thursday 10:00 in Beijing: day 1 lies in 2027


def calendar_dir(tmp_path, *holidays_2027: str):
    if holidays_2027:
        (tmp_path / "CN-2027.toml").write_text(f"holidays = {list(holidays_2027)!r}\n".replace("'", '"'),
                                               encoding="utf-8")
    return WorkdayCalendar(tmp_path)


async def test_a_deadline_in_an_unknown_year_is_provisional_and_alerted_then_redated(tmp_path, caplog) -> None:
    alerts: list[int] = []
    uow = FakeUnitOfWork(Repos())
    (tmp_path / "none").mkdir()
    reg = Registration(uow=uow, calendar=calendar_dir(tmp_path / "none"), clock=FrozenClock(NYE),
                       warning_before=timedelta(hours=4), at_risk_within=timedelta(hours=4),
                       on_provisional=alerts.append)
    with caplog.at_level("WARNING", logger="registration.service"):
        case = await accepted_case(reg)
    stored = await uow.repos.cases.get(case)
    assert stored.due_at_provisional and stored.due_at == datetime(2027, 1, 4, 16, 0, tzinfo=UTC)  # Mon 01-04 24:00 local
    assert alerts == [2027] and "CN-2027.toml" in caplog.text
    [accepted_event] = emitted(uow, ev.ApplicationAcceptedV1)
    assert accepted_event.due_at_provisional
    assert all(e.due_at_provisional for e in emitted(uow, ev.StepRequestedV1))

    # Still unknown at the next start: nothing changes, the alert repeats.
    assert await reg.redate_provisional() == 0 and alerts == [2027, 2027]

    # Operators add CN-2027.toml (Monday 01-04 off too) and restart.
    (tmp_path / "known").mkdir()
    reg.calendar = calendar_dir(tmp_path / "known", "2027-01-01", "2027-01-04")
    uow.emitted.clear()
    assert await reg.redate_provisional() == 1
    stored = await uow.repos.cases.get(case)
    new_due = datetime(2027, 1, 5, 16, 0, tzinfo=UTC)  # Tuesday 01-05 24:00 in Beijing
    assert (stored.due_at, stored.due_at_provisional) == (new_due, False)
    assert uow.repos.timers.pending[f"{case}:overdue"][1] == new_due
    assert uow.repos.timers.pending[f"{case}:warning"][1] == new_due - timedelta(hours=4)
    [redated] = emitted(uow, ev.DeadlineRedatedV1)
    assert (redated.previous_due_at, redated.due_at, redated.due_at_provisional) == (
        datetime(2027, 1, 4, 16, 0, tzinfo=UTC), new_due, False)
    assert await reg.redate_provisional() == 0  # done once


async def test_a_known_year_gives_no_provisional_deadline(tmp_path) -> None:
    alerts: list[int] = []
    uow = FakeUnitOfWork(Repos())
    reg = Registration(uow=uow, calendar=calendar_dir(tmp_path, "2027-01-01"), clock=FrozenClock(NYE),
                       warning_before=timedelta(hours=4), at_risk_within=timedelta(hours=4),
                       on_provisional=alerts.append)
    case = await accepted_case(reg)
    assert not (await uow.repos.cases.get(case)).due_at_provisional and alerts == []
    assert await reg.redate_provisional() == 0


# -- a case another region's center forwarded (crossregion's CaseForwardedV1) -------------------------
def forwarded(form: dict | None = None, **kw):
    from contracts.events.crossregion import CaseForwardedV1
    from registration.domain import make_uscc

    reference = "620600-20261126-0A1B2C3D"
    data = {"unified_social_credit_code": make_uscc("620300", 7), "company_name": "金昌一窗示范科技有限公司",
            "business_scope": ["软件开发"], "materials": ["change_application", "change_resolution"]}
    return make(CaseForwardedV1, reference, source="/one-window/crossregion", reference=reference,
                correlation_id=reference, matter="licence_change", mode="proxy", origin_region="620600",
                applicant_id="u-wuwei", applicant_phone="13912345678", form=data if form is None else form, **kw)


async def test_a_forwarded_case_becomes_a_change_case_correlated_with_its_reference_once() -> None:
    reg, uow = registration()
    event = forwarded()
    case = await reg.accept_forwarded(event)
    assert case is not None and case.kind == "change" and case.channel == "other_region"
    assert case.correlation_id == event.reference and case.applicant_id == "u-wuwei"
    [submitted_event] = [e for e in uow.emitted if isinstance(e, ev.ApplicationSubmittedV1)]
    assert submitted_event.correlation_id == event.reference and submitted_event.causation_id == event.event_id
    assert await reg.accept_forwarded(event) is None  # redelivered: no second case
    assert len(uow.repos.cases.rows) == 1


async def test_a_forwarded_form_registration_refuses_makes_no_case_and_says_why_once() -> None:
    reg, uow = registration()
    event = forwarded({"company_name": "x"})
    assert await reg.accept_forwarded(event) is None
    assert await reg.accept_forwarded(event) is None  # redelivered: said once
    [refused] = uow.emitted
    assert isinstance(refused, ev.ForwardedApplicationRefusedV1) and not uow.repos.cases.rows
    assert refused.case_number == event.reference and refused.correlation_id == event.reference
    assert "unified_social_credit_code" in refused.reason and refused.causation_id == event.event_id
