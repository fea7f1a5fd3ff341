"""The registration case state machine and form rules, without I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from registration.domain import (
    AFTER_LICENCE,
    RANK,
    Case,
    ChangeForm,
    CompanyForm,
    CorrectionNotAllowed,
    Department,
    InvalidState,
    MaterialNotListed,
    ReturnNotAllowed,
    StaleDecision,
    Status,
    Step,
    StepStatus,
    make_uscc,
)
from registration.domain.events import (
    ApplicationAccepted,
    ApplicationIncomplete,
    ApplicationSubmitted,
    CaseCompleted,
    CaseOverdue,
    CaseRejected,
    DeadlineRedated,
    DeadlineWarning,
    LicenceIssued,
    StepApproved,
    StepRequested,
)
from servicekit.aggregate import DomainEvent
from tests.support.forms import company_form, id_number

T0 = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
DUE = T0 + timedelta(days=1)
CODE = make_uscc("620102", 1)


def new_case(**form_overrides) -> Case:
    return Case.submit(case_number="QY1", form=CompanyForm.model_validate(company_form(**form_overrides)),
                       applicant_id="u-1", channel="web", now=T0)


def accepted(**form_overrides) -> Case:
    case = new_case(**form_overrides)
    case.check_at_window(staff_id="w-1", now=T0, due_at=DUE)
    return case


def facts(case: Case) -> list[type[DomainEvent]]:
    return [type(e) for e in case.pull_events()]


def approve(case: Case, step: Step, at: datetime = T0) -> None:
    case.decide(step=step, attempt=case.steps[step].attempt, decision="approved", now=at, reviewer="r",
                uscc=CODE if case.needs_code(step, "approved") else None)


# -- the form -------------------------------------------------------------------------
def test_every_bad_field_is_reported_at_once():
    bad = company_form(company_name="x", address={"division_code": "12", "detail": "兰州市城关区"},
                       legal_representative={"name": "张三", "id_number": "620102199003071230"},
                       tax={"taxpayer_type": "huge"})
    with pytest.raises(ValidationError) as exc:
        CompanyForm.model_validate(bad)
    fields = {".".join(map(str, e["loc"])) for e in exc.value.errors()}
    assert {"company_name", "address.division_code", "legal_representative.id_number", "tax.taxpayer_type"} <= fields


@pytest.mark.parametrize(("overrides", "message"), [
    ({"company_type": "sole_proprietorship"}, "exactly one investor"),
    ({"registered_capital": "99"}, "add up to registered_capital"),
    ({"seal_order": {"seals": ["official", "official"]}}, "listed twice"),
])
def test_form_consistency_rules(overrides, message):
    with pytest.raises(ValidationError, match=message):
        CompanyForm.model_validate(company_form(**overrides))


def test_change_form_needs_a_change_and_a_valid_code():
    with pytest.raises(ValidationError, match="at least one"):
        ChangeForm.model_validate({"unified_social_credit_code": CODE, "company_name": "兰州一窗科技有限公司"})
    with pytest.raises(ValidationError, match="unified social credit code"):
        ChangeForm.model_validate({"unified_social_credit_code": CODE[:-1] + "0", "company_name": "兰州一窗科技有限公司",
                                   "business_scope": ["软件开发"]})


# -- window acceptance -------------------------------------------------------------------
def test_missing_materials_are_listed_all_at_once_then_accepted_after_supplement():
    case = new_case(materials=[])
    assert facts(case) == [ApplicationSubmitted]
    case.check_at_window(staff_id="w-1", now=T0, due_at=DUE, defects=[{"field": "address.detail", "reason": "门牌号不清"}])
    assert case.status is Status.INCOMPLETE
    assert {m["field"] for m in case.missing} == {
        "materials.legal_representative_id", "materials.address_proof", "materials.articles_of_association",
        "materials.investor_ids", "address.detail"}
    assert facts(case) == [ApplicationIncomplete]
    case.supplement(materials=["legal_representative_id", "address_proof", "articles_of_association", "investor_ids"],
                    now=T0)
    case.check_at_window(staff_id="w-1", now=T0, due_at=DUE)
    assert case.status is Status.ACCEPTED and case.due_at == DUE
    assert facts(case) == [ApplicationAccepted, StepRequested]
    assert case.steps[Step.LICENCE].status is StepStatus.REQUESTED
    assert all(case.steps[s].status is StepStatus.WAITING for s in AFTER_LICENCE)


# -- steps -----------------------------------------------------------------------------------
def test_licence_first_then_three_in_parallel_then_completed_together():
    case = accepted()
    case.pull_events()
    approve(case, Step.LICENCE)
    assert case.uscc == CODE
    assert facts(case) == [StepApproved, LicenceIssued, StepRequested, StepRequested, StepRequested]
    for step in (Step.TAX, Step.SEAL):
        approve(case, step)
        assert case.status is Status.ACCEPTED
    approve(case, Step.SOCIAL_SECURITY, T0 + timedelta(hours=3))
    assert case.status is Status.COMPLETED
    completed = case.pull_events()[-1]
    assert isinstance(completed, CaseCompleted) and completed.within_time_limit is True
    assert set(completed.results) == {"licence", "seal", "tax", "social_security"}
    assert completed.results["licence"]["unified_social_credit_code"] == CODE


def test_step_forms_carry_only_what_the_department_needs():
    case = accepted()
    assert "tax" not in case.form_for(Step.LICENCE) and "employees" not in case.form_for(Step.LICENCE)
    assert set(case.form_for(Step.SOCIAL_SECURITY)) == {"company_name", "address", "employees"}
    assert "shareholders" not in case.form_for(Step.SEAL)


def test_a_decision_for_a_stale_attempt_or_unrequested_step_is_refused():
    case = accepted()
    with pytest.raises(StaleDecision):
        case.decide(step=Step.TAX, attempt=1, decision="approved", now=T0, reviewer="r")
    with pytest.raises(StaleDecision):
        case.decide(step=Step.LICENCE, attempt=2, decision="approved", now=T0, reviewer="r", uscc=CODE)
    approve(case, Step.LICENCE)
    with pytest.raises(StaleDecision):  # another answer to an attempt already answered
        case.decide(step=Step.LICENCE, attempt=1, decision="rejected", now=T0, reviewer="r", reason="名称不合规")


def test_the_same_answer_again_changes_nothing_even_once_the_case_is_closed():
    """A department answers a re-request (or a retry) with the answer it gave before."""
    case = accepted()
    approve(case, Step.LICENCE)
    case.pull_events()
    before = (case.uscc, len(case.history), case.steps[Step.LICENCE])
    case.decide(step=Step.LICENCE, attempt=1, decision="approved", now=T0, reviewer="r")
    assert facts(case) == [] and (case.uscc, len(case.history), case.steps[Step.LICENCE]) == before
    rejected = accepted()
    rejected.decide(step=Step.LICENCE, attempt=1, decision="rejected", now=T0, reviewer="r", reason="名称含禁用字词")
    rejected.pull_events()
    rejected.decide(step=Step.LICENCE, attempt=1, decision="rejected", now=T0, reviewer="r", reason="名称含禁用字词")
    assert facts(rejected) == [] and rejected.status is Status.REJECTED


def test_unanswered_requests_are_asked_again_with_the_same_attempt_once_the_case_is_open():
    case = accepted()
    approve(case, Step.LICENCE)
    case.decide(step=Step.TAX, attempt=1, decision="returned", now=T0, reviewer="r",
                reasons=[{"field": "tax.taxpayer_type", "reason": "营业额超过小规模纳税人标准"}])
    approve(case, Step.SEAL)
    case.pull_events()
    assert case.re_request(T0) == [Step.SOCIAL_SECURITY]  # not the approved, not the returned (the applicant's turn)
    assert case.pull_events() == [StepRequested(
        step=Step.SOCIAL_SECURITY, department=Department.HUMAN_RESOURCES_SOCIAL_SECURITY, attempt=1, due_at=DUE,
        unified_social_credit_code=CODE, form=case.form_for(Step.SOCIAL_SECURITY), re_request=True)]
    assert case.steps[Step.SOCIAL_SECURITY].attempt == 1 and case.history[-1].action == "social_security_re_requested"
    approve(case, Step.SOCIAL_SECURITY)  # its answer to the first request still counts
    case.decide(step=Step.SOCIAL_SECURITY, attempt=1, decision="approved", now=T0, reviewer="r")  # and to the second
    assert case.steps[Step.SOCIAL_SECURITY].status is StepStatus.APPROVED
    case.pull_events()
    closed = accepted()
    closed.decide(step=Step.LICENCE, attempt=1, decision="rejected", now=T0, reviewer="r", reason="名称含禁用字词")
    closed.pull_events()
    assert closed.re_request(T0) == [] and facts(closed) == []


def test_correction_pauses_only_the_returned_step_and_asks_nothing_twice():
    case = accepted()
    approve(case, Step.LICENCE)
    case.decide(step=Step.TAX, attempt=1, decision="returned", now=T0, reviewer="r",
                reasons=[{"field": "tax.taxpayer_type", "reason": "营业额超过小规模纳税人标准"}])
    approve(case, Step.SEAL)
    approve(case, Step.SOCIAL_SECURITY)
    assert case.status is Status.ACCEPTED and case.steps[Step.TAX].status is StepStatus.RETURNED
    with pytest.raises(CorrectionNotAllowed) as exc:
        case.correct(step=Step.TAX, fields={"tax.taxpayer_type": "general", "company_name": "别的名字有限公司"}, now=T0)
    assert exc.value.errors == [{"field": "company_name", "message": "not asked for by the department"}]
    with pytest.raises(CorrectionNotAllowed):
        case.correct(step=Step.TAX, fields={"tax.taxpayer_type": "enormous"}, now=T0)
    case.pull_events()
    case.correct(step=Step.TAX, fields={"tax.taxpayer_type": "general"}, now=T0)
    requested = case.pull_events()
    assert requested == [StepRequested(step=Step.TAX, department=Department.TAX, attempt=2, due_at=DUE,
                                       unified_social_credit_code=CODE, form=case.form_for(Step.TAX))]
    assert case.steps[Step.LICENCE].attempt == 1  # the licence is not done again
    approve(case, Step.TAX)
    assert case.status is Status.COMPLETED and case.form.tax.taxpayer_type == "general"


# -- the same request again (a retry after a lost reply) ------------------------------------------
def test_the_same_window_check_again_changes_nothing_another_is_refused():
    case = accepted()
    case.pull_events()
    before = (case.status, case.accepted_at, case.due_at, len(case.history))
    assert case.check_at_window(staff_id="w-1", now=T0 + timedelta(minutes=1), due_at=DUE + timedelta(days=1)) is False
    assert (case.status, case.accepted_at, case.due_at, len(case.history)) == before and facts(case) == []
    with pytest.raises(InvalidState):  # another staff member, or defects now: not the check that accepted it
        case.check_at_window(staff_id="w-2", now=T0, due_at=DUE)
    with pytest.raises(InvalidState):
        case.check_at_window(staff_id="w-1", now=T0, due_at=DUE, defects=[{"field": "x", "reason": "y"}])
    approve(case, Step.LICENCE)  # still recognised once the case has moved on
    assert case.check_at_window(staff_id="w-1", now=T0, due_at=DUE) is False


def test_the_same_incomplete_notice_again_changes_nothing_other_defects_are_a_new_check():
    case = new_case(materials=[])
    case.pull_events()
    defects = [{"field": "address.detail", "reason": "门牌号不清"}]
    assert case.check_at_window(staff_id="w-1", now=T0, due_at=DUE, defects=defects) is True
    assert facts(case) == [ApplicationIncomplete]
    assert case.check_at_window(staff_id="w-1", now=T0, due_at=DUE, defects=defects) is False
    assert facts(case) == []
    assert case.check_at_window(staff_id="w-1", now=T0, due_at=DUE) is True  # fewer defects: a new notice
    assert facts(case) == [ApplicationIncomplete]


@pytest.mark.parametrize(("decision", "extra"), [
    ("approved", {"result": {"licence_no": "L-1"}}),
    ("returned", {"reasons": [{"field": "business_scope", "reason": "请规范表述"}]}),
    ("rejected", {"reason": "名称含禁用字词"}),
])
def test_the_same_decision_again_changes_nothing(decision, extra):
    case = accepted()
    uscc = CODE if case.needs_code(Step.LICENCE, decision) else None
    assert case.decide(step=Step.LICENCE, attempt=1, decision=decision, now=T0, reviewer="r", uscc=uscc, **extra)
    case.pull_events()
    state, history = dict(vars(case.steps[Step.LICENCE])), len(case.history)
    assert case.decide(step=Step.LICENCE, attempt=1, decision=decision, now=T0 + timedelta(hours=1), reviewer="r2",
                       **extra) is False
    assert dict(vars(case.steps[Step.LICENCE])) == state and len(case.history) == history and facts(case) == []
    changed = {"approved": {"result": {"licence_no": "L-2"}},
               "returned": {"reasons": [{"field": "company_name", "reason": "x"}]},
               "rejected": {"reason": "另一个理由"}}[decision]
    with pytest.raises(InvalidState):  # the same attempt answered with other content: stale, not a retry
        case.decide(step=Step.LICENCE, attempt=1, decision=decision, now=T0, reviewer="r", uscc=CODE, **changed)


def test_the_same_supplement_correction_or_helper_again_changes_nothing():
    case = new_case(materials=[])
    case.check_at_window(staff_id="w-1", now=T0, due_at=DUE)
    everything = ["legal_representative_id", "address_proof", "articles_of_association", "investor_ids"]
    assert case.supplement(materials=everything, now=T0) is True
    assert case.supplement(materials=everything, now=T0) is False and case.status is Status.SUBMITTED
    with pytest.raises(MaterialNotListed):  # not a material this case needs: refused in any state
        case.supplement(materials=["other"], now=T0)
    case.check_at_window(staff_id="w-1", now=T0, due_at=DUE)
    approve(case, Step.LICENCE)
    case.decide(step=Step.TAX, attempt=1, decision="returned", now=T0, reviewer="r",
                reasons=[{"field": "tax.taxpayer_type", "reason": "应登记为一般纳税人"}])
    fix = {"tax.taxpayer_type": "general"}
    assert case.correct(step=Step.TAX, fields=fix, now=T0) is True
    case.pull_events()
    assert case.correct(step=Step.TAX, fields=fix, now=T0) is False
    assert case.steps[Step.TAX].attempt == 2 and facts(case) == []
    with pytest.raises(InvalidState):  # another value: not the correction made
        case.correct(step=Step.TAX, fields={"tax.taxpayer_type": "small_scale"}, now=T0)
    assert case.assign_helper(helper_id="h-1", by="s", now=T0) is True
    assert case.assign_helper(helper_id="h-1", by="s", now=T0) is False
    assert [h.action for h in case.history].count("helper_assigned") == 1


def test_rejection_closes_the_case():
    case = accepted()
    case.decide(step=Step.LICENCE, attempt=1, decision="rejected", now=T0, reviewer="r", reason="名称含禁用字词")
    assert case.status is Status.REJECTED and facts(case)[-1] is CaseRejected
    with pytest.raises(InvalidState):
        case.assign_helper(helper_id="h", by="s", now=T0)


def test_warning_and_overdue_fire_once_and_never_after_completion():
    case = accepted()
    assert case.warn(T0) and not case.warn(T0)
    assert case.mark_overdue(DUE) and not case.mark_overdue(DUE)
    assert facts(case)[-2:] == [DeadlineWarning, CaseOverdue]
    done = accepted()
    for step in (Step.LICENCE, *AFTER_LICENCE):
        approve(done, step)
    assert not done.warn(DUE) and not done.mark_overdue(DUE)


def test_a_licence_change_is_one_step_and_keeps_its_code():
    form = ChangeForm.model_validate({"unified_social_credit_code": CODE, "company_name": "兰州一窗科技有限公司",
                                      "legal_representative": {"name": "赵六", "id_number": id_number("19880808", "111")},
                                      "materials": ["change_application", "change_resolution", "legal_representative_id"]})
    case = Case.submit(case_number="BG1", form=form, applicant_id="u-1", channel="app", now=T0)
    case.check_at_window(staff_id="w", now=T0, due_at=DUE)
    assert list(case.steps) == [Step.LICENCE]
    approve(case, Step.LICENCE)
    assert case.status is Status.COMPLETED and case.uscc == CODE


# -- properties ------------------------------------------------------------------------
ACTIONS = st.lists(
    st.tuples(st.sampled_from(list(Step)), st.sampled_from(["approved", "returned", "rejected", "correct", "stale"])),
    max_size=30,
)


OWN_FIX = {Step.LICENCE: ("business_scope", ["软件开发"]), Step.SEAL: ("seal_order.seals", ["official"]),
           Step.TAX: ("tax.invoice_types", ["vat_general"]), Step.SOCIAL_SECURITY: ("employees", [])}


@settings(max_examples=300, deadline=None)
@given(ACTIONS)
def test_no_sequence_moves_a_case_backwards_or_completes_it_with_a_step_missing(actions):
    case = accepted()
    rank = RANK[case.status]
    for step, action in actions:
        state = case.steps[step]
        try:
            field, value = OWN_FIX[step]
            if action == "correct":
                case.correct(step=step, fields={field: value}, now=T0)
            else:
                attempt = state.attempt + (1 if action == "stale" else 0)
                decision = "approved" if action == "stale" else action
                case.decide(step=step, attempt=attempt, decision=decision, now=T0, reviewer="r",
                            reasons=[{"field": field, "reason": "请规范表述"}],
                            uscc=CODE if case.needs_code(step, decision) else None)
        except (InvalidState, CorrectionNotAllowed):
            pass
        assert RANK[case.status] >= rank, "a case moved backwards"
        rank = RANK[case.status]
        if case.status is Status.COMPLETED:
            assert all(s.status is StepStatus.APPROVED for s in case.steps.values())
        if any(case.steps[s].status is not StepStatus.WAITING for s in AFTER_LICENCE):
            assert case.steps[Step.LICENCE].status is StepStatus.APPROVED and case.uscc is not None


# -- ID numbers and division codes (issue 10) ------------------------------------------------
def _id_errors(number: str) -> list[str]:
    form = company_form(legal_representative={"name": "张三", "id_number": number})
    try:
        CompanyForm.model_validate(form)
    except ValidationError as exc:
        return [e["msg"] for e in exc.errors() if e["loc"] == ("legal_representative", "id_number")]
    return []


def test_an_id_number_issued_under_a_region_code_newer_than_its_holder_is_valid():
    # 620102 (城关区) exists since 1983; its holder was born in 1970: the code is the one issued under
    assert _id_errors("620102197001011234") == []
    assert _id_errors(id_number("20150101", "123", "110103")) == []  # 崇文区, retired in 2010: still its number


@pytest.mark.parametrize(("number", "message"), [
    ("620102197001011235", "wrong check character"),
    (id_number("19700231"), "birth date 19700231 is not a date"),
    (id_number("20990101"), "birth date 2099-01-01 is in the future"),
    (id_number("18991231"), "birth date 1899-12-31 is before 1900"),
    (id_number(region="899999"), "region code 899999 is not an administrative division code"),
    ("62010219700101123", "must be 18 characters, not 17"),
    ("62010219700101A234", "17 digits then a digit or X"),
])
def test_each_id_number_refusal_says_what_is_wrong(number, message):
    errors = _id_errors(number)
    assert len(errors) == 1 and message in errors[0], errors
    assert ";" not in errors[0]  # only what is wrong with this number, not a generic list


def test_division_codes_are_checked_against_every_year_of_the_code_list():
    def errors(code: str) -> list[str]:
        try:
            CompanyForm.model_validate(company_form(address={"division_code": code, "detail": "城关区张掖路1号"}))
        except ValidationError as exc:
            return [e["msg"] for e in exc.errors()]
        return []

    assert errors("620102") == [] and errors("620000") == []
    assert errors("110103") == []  # 崇文区, merged away in 2010: it was a code, and a form may carry it
    assert len(errors("899999")) == 1 and "899999 is not an administrative division code" in errors("899999")[0]


def test_a_stored_form_is_read_back_without_the_code_list_lookups():
    data = company_form(address={"division_code": "899999", "detail": "城关区张掖路1号"})
    with pytest.raises(ValidationError):
        CompanyForm.model_validate(data)
    assert CompanyForm.model_validate(data, context={"stored": True}).address.division_code == "899999"


# -- correction scope and re-licensing (issue 10) -------------------------------------------------
def test_a_department_returns_only_its_own_fields():
    case = accepted()
    approve(case, Step.LICENCE)
    case.pull_events()
    with pytest.raises(ReturnNotAllowed) as exc:
        case.decide(step=Step.TAX, attempt=1, decision="returned", now=T0, reviewer="r",
                    reasons=[{"field": "tax.taxpayer_type", "reason": "x"}, {"field": "company_name", "reason": "y"},
                             {"field": "junk", "reason": "z"}])
    assert [e["field"] for e in exc.value.errors] == ["reasons.1.field", "reasons.2.field"]
    assert "'company_name' belongs to the licence step" in exc.value.errors[0]["message"]
    assert case.steps[Step.TAX].status is StepStatus.REQUESTED and facts(case) == []
    with pytest.raises(ReturnNotAllowed):  # the seal is public security's, not social security's
        case.decide(step=Step.SOCIAL_SECURITY, attempt=1, decision="returned", now=T0, reviewer="r",
                    reasons=[{"field": "seal_order.seals", "reason": "x"}])
    fresh = accepted()  # the licence returns what it registers
    assert fresh.decide(step=Step.LICENCE, attempt=1, decision="returned", now=T0, reviewer="r",
                        reasons=[{"field": "company_name", "reason": "名称含禁用字词"},
                                 {"field": "shareholders.1.id_number", "reason": "号码有误"}])


def test_a_fix_that_changes_what_the_licence_registers_re_requests_the_licence_then_the_rest():
    case = accepted()
    approve(case, Step.LICENCE)
    approve(case, Step.SEAL)
    # a return recorded before departments were held to their own fields
    tax = case.steps[Step.TAX]
    tax.status, tax.reasons = StepStatus.RETURNED, [{"field": "company_name", "reason": "与税务登记不一致"}]
    case.pull_events()
    case.correct(step=Step.TAX, fields={"company_name": "兰州新名字科技有限公司"}, now=T0)
    assert [(type(e), e.step, e.attempt) for e in case.pull_events()] == [(StepRequested, Step.LICENCE, 2)]
    assert case.steps[Step.LICENCE].status is StepStatus.REQUESTED
    assert {case.steps[s].status for s in AFTER_LICENCE} == {StepStatus.WAITING}
    assert case.history[-2].action == "licence_re_requested" and "company_name" in case.history[-2].detail
    with pytest.raises(InvalidState):  # the seal's old approval no longer counts
        case.decide(step=Step.SEAL, attempt=1, decision="approved", now=T0, reviewer="r", result={"x": "y"})
    approve(case, Step.LICENCE)
    issued = [e for e in case.pull_events() if isinstance(e, LicenceIssued)]
    assert [(e.company_name, e.unified_social_credit_code) for e in issued] == [("兰州新名字科技有限公司", CODE)]
    assert {s: case.steps[s].attempt for s in AFTER_LICENCE} == {Step.SEAL: 2, Step.TAX: 2, Step.SOCIAL_SECURITY: 2}
    for step in AFTER_LICENCE:
        approve(case, step)
    assert case.status is Status.COMPLETED and case.form.company_name == "兰州新名字科技有限公司"


def test_a_fix_of_a_departments_own_section_asks_only_that_step_again():
    case = accepted()
    approve(case, Step.LICENCE)
    case.decide(step=Step.SEAL, attempt=1, decision="returned", now=T0, reviewer="r",
                reasons=[{"field": "seal_order.seals", "reason": "发票专用章需另行申请"}])
    case.pull_events()
    case.correct(step=Step.SEAL, fields={"seal_order.seals": ["official", "finance"]}, now=T0)
    assert [(e.step, e.attempt) for e in case.pull_events()] == [(Step.SEAL, 2)]
    assert case.steps[Step.LICENCE].status is StepStatus.APPROVED


# -- materials (issue 10) ---------------------------------------------------------------------------
def test_a_material_not_on_the_cases_list_is_refused_and_changes_nothing():
    case = new_case(materials=[])
    case.check_at_window(staff_id="w-1", now=T0, due_at=DUE)
    case.pull_events()
    with pytest.raises(MaterialNotListed) as exc:
        case.supplement(materials=["address_proof", "foo"], now=T0)
    assert exc.value.errors[0]["field"] == "materials.1" and "'foo'" in exc.value.errors[0]["message"]
    assert "articles_of_association" in exc.value.errors[0]["message"]
    assert case.status is Status.INCOMPLETE and case.form.materials == []
    everything = ["legal_representative_id", "address_proof", "articles_of_association", "investor_ids"]
    assert case.supplement(materials=everything, now=T0, by="w-2") is True
    assert case.status is Status.SUBMITTED and case.history[-1].actor == "w-2"


def test_a_provisional_due_date_is_carried_by_the_case_and_its_events():
    case = new_case()
    case.check_at_window(staff_id="w-1", now=T0, due_at=T0 + timedelta(days=4), due_at_provisional=True)
    assert case.due_at_provisional
    recorded = case.pull_events()
    assert [e.due_at_provisional for e in recorded if hasattr(e, "due_at_provisional")] == [True, True]  # accepted, licence
    case.warn(T0)
    case.mark_overdue(T0)
    assert all(e.due_at_provisional for e in case.pull_events())


def test_redate_moves_a_provisional_due_date_once_and_records_it():
    case = new_case()
    old, new = T0 + timedelta(days=4), T0 + timedelta(days=5)
    case.check_at_window(staff_id="w-1", now=T0, due_at=old, due_at_provisional=True)
    case.pull_events()
    assert not case.redate(due_at=old, provisional=True, now=T0)  # still the same estimate: nothing changes
    assert case.redate(due_at=new, provisional=False, now=T0)
    assert (case.due_at, case.due_at_provisional) == (new, False)
    [moved] = case.pull_events()
    assert isinstance(moved, DeadlineRedated) and (moved.previous_due_at, moved.due_at) == (old, new)
    assert not case.redate(due_at=T0, provisional=False, now=T0)  # no longer provisional: never again


def test_redate_to_the_same_date_only_clears_the_mark():
    case = new_case()
    case.check_at_window(staff_id="w-1", now=T0, due_at=T0 + timedelta(days=4), due_at_provisional=True)
    case.pull_events()
    assert case.redate(due_at=T0 + timedelta(days=4), provisional=False, now=T0)
    assert not case.due_at_provisional and case.pull_events() == []
    assert case.history[-1].action == "due_confirmed"


def test_a_known_due_date_is_never_redated():
    case = accepted()
    assert not case.due_at_provisional
    assert not case.redate(due_at=T0 + timedelta(days=9), provisional=False, now=T0)
