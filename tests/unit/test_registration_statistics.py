"""Registration's statistics: what each case's facts add to the running tallies, and the month's
report from them (the domain, pure), then through the use cases (the fake unit of work)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from registration.domain import Step
from registration.domain import events as facts
from registration.domain.statistics import Count, counts, report
from tests.unit.test_registration_use_cases import (
    T0,
    Fired,
    accepted_case,
    answer,
    forwarded,
    registration,
    reviewer,
)

SUBMITTED = facts.ApplicationSubmitted(application_id="A", company_name="x", applicant_id="u", applicant_phone=None,
                                       channel="web", kind="establishment")


def completed(within: bool) -> facts.CaseCompleted:
    return facts.CaseCompleted(applicant_id="u", company_name="x", kind="establishment", unified_social_credit_code="c",
                               accepted_at=T0, completed_at=T0, within_time_limit=within, results={})


def test_months_and_days_are_local_to_shanghai() -> None:
    late = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)  # 01:00 on 1 December in Lanzhou
    assert counts(kind="establishment", submitted_at=late, overdue=False, recorded=[SUBMITTED], now=late) == [
        Count("2026-12", "establishment", "submitted"), Count("2026-12-01", "establishment", "submitted")]


def test_completion_counts_within_the_limit_and_an_overdue_case_stops_counting_as_open() -> None:
    submitted_at, now = datetime(2026, 10, 30, 2, 0, tzinfo=UTC), datetime(2026, 11, 3, 2, 0, tzinfo=UTC)
    on_time = counts(kind="change", submitted_at=submitted_at, overdue=False, recorded=[completed(True)], now=now)
    assert on_time == [Count("2026-11", "change", "completed"), Count("2026-11-03", "change", "completed"),
                       Count("2026-11", "change", "within_limit")]
    late = counts(kind="change", submitted_at=submitted_at, overdue=True, recorded=[completed(False)], now=now)
    assert late == [Count("2026-11", "change", "completed"), Count("2026-11-03", "change", "completed"),
                    Count("2026-10", "change", "overdue_open", -1)]  # counted open in October, its month
    overdue = facts.CaseOverdue(due_at=now, pending_steps=[Step.TAX], helper_id=None)
    assert counts(kind="change", submitted_at=submitted_at, overdue=True, recorded=[overdue], now=now) == [
        Count("2026-10", "change", "overdue_open")]
    rejected = facts.CaseRejected(applicant_id="u", step=Step.LICENCE, department="market_supervision", reason="r")
    assert counts(kind="change", submitted_at=submitted_at, overdue=True, recorded=[rejected], now=now) == [
        Count("2026-10", "change", "overdue_open", -1)]
    assert counts(kind="change", submitted_at=submitted_at, overdue=False, recorded=[rejected], now=now) == []


def test_the_report_lists_every_kind_with_attainment_and_sums_today_over_kinds() -> None:
    tallies = {("2026-11", "establishment", "submitted"): 10, ("2026-11", "establishment", "completed"): 8,
               ("2026-11", "establishment", "within_limit"): 6, ("2026-11", "establishment", "overdue_open"): 2,
               ("2026-11-26", "establishment", "submitted"): 3, ("2026-11-26", "change", "submitted"): 1,
               ("2026-11-26", "change", "completed"): 2, ("2026-10", "change", "submitted"): 99}
    r = report("2026-11", date(2026, 11, 26), tallies)
    est, change = r.matters
    assert (est.kind, est.submitted, est.completed, est.within_limit, est.overdue_open) == ("establishment", 10, 8, 6, 2)
    assert est.attainment == 0.75
    assert (change.kind, change.submitted, change.completed, change.attainment) == ("change", 0, 0, None)
    assert (r.today.date, r.today.submitted, r.today.completed) == ("2026-11-26", 4, 2)


async def test_the_use_cases_keep_the_tallies_in_each_cases_transaction() -> None:
    reg, uow = registration()
    fast = await accepted_case(reg, "兰州快速办结科技有限公司")
    slow = await accepted_case(reg, "兰州超时办结科技有限公司")
    stuck = await accepted_case(reg, "兰州仍未办结科技有限公司")
    await reg.accept_forwarded(forwarded())  # a change case
    steps = [Step.LICENCE, Step.SEAL, Step.TAX, Step.SOCIAL_SECURITY]
    await reg.decide_many([answer(fast, s) for s in steps])
    reg.clock.advance(days=2)  # type: ignore[attr-defined]  # past both deadlines
    for case in (slow, stuck):
        await uow.run(lambda tx, case=case: reg.on_timer(tx, Fired("case_overdue", {"case_number": case})))
    mid = await reg.statistics("2026-11")
    assert [(m.kind, m.submitted, m.completed, m.within_limit, m.overdue_open) for m in mid.matters] == [
        ("establishment", 3, 1, 1, 2), ("change", 1, 0, 0, 0)]
    for s in steps:
        await reg.decide(reviewer(s), slow, s, decision="approved")
    r = await reg.statistics("2026-11")
    assert [(m.kind, m.submitted, m.completed, m.within_limit, m.overdue_open, m.attainment) for m in r.matters] == [
        ("establishment", 3, 2, 1, 1, 0.5), ("change", 1, 0, 0, 0, None)]
    assert (r.today.date, r.today.submitted, r.today.completed) == ("2026-11-28", 0, 1)  # two days on
    today = await reg.today()
    assert (today.today.submitted, today.today.completed) == (0, 1)
    assert (await reg.statistics("2026-10")).matters[0].submitted == 0
