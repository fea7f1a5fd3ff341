"""Thin HTTP routes: parse → one use case → DTO. Every state-changing route calls its use
case through the kit's ``Once`` (the ``Idempotency-Key`` header: a retry gets the first answer)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from registration.domain import Step
from registration.schemas import (
    ApplicationIn,
    CaseOut,
    ChangeIn,
    CorrectionIn,
    DecisionIn,
    HelperIn,
    MaterialsIn,
    StatisticsOut,
    TodayOut,
    WindowCheckIn,
)
from registration.service import Registration, Submission, View
from servicekit.app import Provide
from servicekit.auth import Principal, Role, require
from servicekit.idempotency import Once

router = APIRouter(prefix="/cases", tags=["cases"])
figures = APIRouter(prefix="/statistics", tags=["statistics"])
registration = Provide[Registration]("registration")

Cases = Annotated[Registration, Depends(registration)]
Applicant = Annotated[Principal, Depends(require(Role.APPLICANT, Role.WINDOW_STAFF))]
Staff = Annotated[Principal, Depends(require(Role.WINDOW_STAFF))]
Supervising = Annotated[Principal, Depends(require(Role.HELPER, Role.SUPERVISOR, Role.WINDOW_STAFF, Role.OPERATOR))]
Assigning = Annotated[Principal, Depends(require(Role.SUPERVISOR, Role.WINDOW_STAFF))]
Reviewer = Annotated[Principal, Depends(require(Role.REVIEWER))]
Anyone = Annotated[Principal, Depends(require(*Role))]
Watching = Annotated[Principal, Depends(require(Role.SUPERVISOR, Role.OVERSIGHT, Role.OPERATOR, Role.WINDOW_STAFF))]


def _case(submission: Submission) -> CaseOut:
    return CaseOut.of(submission.case)


def _created(submission: Submission) -> int:
    return 201 if submission.created else 200  # 200: the same application again, answered with its case


@router.post("", status_code=201, response_model=CaseOut, summary="Apply once: company start-up (one form)")
async def submit(body: ApplicationIn, who: Applicant, cases: Cases, once: Once) -> CaseOut:
    return await once(cases.submit(who, body.form, channel=body.channel, applicant_id=body.applicant_id,
                                   applicant_phone=body.applicant_phone), _case, status=_created)


@router.post("/changes", status_code=201, response_model=CaseOut, summary="Apply for a business licence change")
async def submit_change(body: ChangeIn, who: Applicant, cases: Cases, once: Once) -> CaseOut:
    return await once(cases.submit(who, body.form, channel=body.channel, applicant_id=body.applicant_id,
                                   applicant_phone=body.applicant_phone), _case, status=_created)


@router.get("", response_model=list[CaseOut], summary="Cases at risk of missing, or past, their time limit")
async def at_risk(who: Supervising, cases: Cases,
                  view: View = Query("at_risk")) -> list[CaseOut]:
    return [CaseOut.of(c) for c in await cases.cases_at_risk(view)]


@router.get("/{case_number}", response_model=CaseOut, summary="Status, steps and full history of a case")
async def read(case_number: str, who: Anyone, cases: Cases) -> CaseOut:
    return CaseOut.of(await cases.get_case(who, case_number))


@router.post("/{case_number}/window-check", response_model=CaseOut,
             summary="Window acceptance: accept, or list everything missing at once (一次性告知)")
async def window_check(case_number: str, body: WindowCheckIn, who: Staff, cases: Cases, once: Once) -> CaseOut:
    defects = [d.model_dump() for d in body.defects]
    return await once(cases.check_at_window(who, case_number, defects=defects), CaseOut.of)


@router.post("/{case_number}/materials", response_model=CaseOut, summary="Supplement the materials listed")
async def supplement(case_number: str, body: MaterialsIn, who: Applicant, cases: Cases, once: Once) -> CaseOut:
    return await once(cases.supplement(who, case_number, materials=body.materials), CaseOut.of)


@router.post("/{case_number}/steps/{step}/decision", response_model=CaseOut,
             summary="A department reviewer approves, returns for correction, or rejects its step")
async def decide(case_number: str, step: Step, body: DecisionIn, who: Reviewer, cases: Cases,
                 once: Once) -> CaseOut:
    return await once(cases.decide(who, case_number, step, decision=body.decision, attempt=body.attempt,
                                   reasons=[r.model_dump() for r in body.reasons], reason=body.reason,
                                   result=body.result), CaseOut.of)


@router.post("/{case_number}/corrections", response_model=CaseOut,
             summary="Correct exactly the fields a department returned (补正)")
async def correct(case_number: str, body: CorrectionIn, who: Applicant, cases: Cases, once: Once) -> CaseOut:
    return await once(cases.correct(who, case_number, step=Step(body.step), fields=body.fields), CaseOut.of)


@router.put("/{case_number}/helper", response_model=CaseOut, summary="Assign a helper (帮办) to a case")
async def assign_helper(case_number: str, body: HelperIn, who: Assigning, cases: Cases, once: Once) -> CaseOut:
    return await once(cases.assign_helper(who, case_number, helper_id=body.helper_id), CaseOut.of)


@figures.get("", response_model=StatisticsOut,
             summary="Submitted, completed, within the 1-working-day limit and overdue per matter; today's counts")
async def statistics(who: Watching, cases: Cases,
                     month: str = Query(pattern=r"^20[0-9]{2}-(0[1-9]|1[0-2])$",
                                        description="YYYY-MM (Asia/Shanghai)")) -> StatisticsOut:
    return StatisticsOut.of(await cases.statistics(month))


@figures.get("/today", response_model=TodayOut, summary="Today's submitted and completed counts (public: the hall screen)")
async def today(cases: Cases) -> TodayOut:
    return StatisticsOut.of(await cases.today()).today
