"""Thin HTTP routes: parse → one use case → DTO."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response

from registration import service
from registration.domain import Step
from registration.schemas import (
    ApplicationIn,
    CaseOut,
    ChangeIn,
    CorrectionIn,
    DecisionIn,
    HelperIn,
    MaterialsIn,
    WindowCheckIn,
)
from servicekit.auth import Principal, Role, require
from servicekit.problems import Problem

router = APIRouter(prefix="/cases", tags=["cases"])

Applicant = Annotated[Principal, Depends(require(Role.APPLICANT, Role.WINDOW_STAFF))]
Staff = Annotated[Principal, Depends(require(Role.WINDOW_STAFF))]
Supervising = Annotated[Principal, Depends(require(Role.HELPER, Role.SUPERVISOR, Role.WINDOW_STAFF, Role.OPERATOR))]
Reviewer = Annotated[Principal, Depends(require(Role.REVIEWER))]
Anyone = Annotated[Principal, Depends(require(*Role))]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


def _ctx(request: Request):  # type: ignore[no-untyped-def]
    return request.app.state.kit, request.app.state.settings


def _applicant(who: Principal, body_applicant: str | None) -> str:
    if who.role is Role.WINDOW_STAFF:
        if not body_applicant:
            raise Problem(422, "Invalid request", "window staff must name the applicant",
                          errors=[{"field": "applicant_id", "message": "required when staff submit"}])
        return body_applicant
    return who.sub


async def _submit(request: Request, response: Response, who: Principal, body: ApplicationIn | ChangeIn,
                  key: str | None) -> CaseOut:
    kit, _ = _ctx(request)
    case, created = await service.submit(
        uow=kit.uow, form=body.form, applicant_id=_applicant(who, body.applicant_id),
        channel="window" if who.role is Role.WINDOW_STAFF else body.channel, now=kit.clock.now(),
        applicant_phone=body.applicant_phone, idempotency_key=key)
    response.status_code = 201 if created else 200
    return CaseOut.of(case)


@router.post("", status_code=201, response_model=CaseOut, summary="Apply once: company start-up (one form)")
async def submit(body: ApplicationIn, request: Request, response: Response, who: Applicant,
                 key: IdempotencyKey = None) -> CaseOut:
    return await _submit(request, response, who, body, key)


@router.post("/changes", status_code=201, response_model=CaseOut, summary="Apply for a business licence change")
async def submit_change(body: ChangeIn, request: Request, response: Response, who: Applicant,
                        key: IdempotencyKey = None) -> CaseOut:
    return await _submit(request, response, who, body, key)


@router.get("", response_model=list[CaseOut], summary="Cases at risk of missing, or past, their time limit")
async def at_risk(request: Request, who: Supervising,
                  view: Literal["at_risk", "overdue"] = Query("at_risk")) -> list[CaseOut]:
    kit, settings = _ctx(request)
    cases = await service.cases_at_risk(uow=kit.uow, now=kit.clock.now(), view=view,
                                        at_risk_within=timedelta(hours=settings.at_risk_within_hours))
    return [CaseOut.of(c) for c in cases]


@router.get("/{case_number}", response_model=CaseOut, summary="Status, steps and full history of a case")
async def read(case_number: str, request: Request, who: Anyone) -> CaseOut:
    kit, _ = _ctx(request)
    owner = who.sub if who.role in (Role.APPLICANT, Role.PARTNER_AGENCY) else None
    return CaseOut.of(await service.get_case(uow=kit.uow, case_number=case_number, applicant_id=owner))


@router.post("/{case_number}/window-check", response_model=CaseOut,
             summary="Window acceptance: accept, or list everything missing at once (一次性告知)")
async def window_check(case_number: str, body: WindowCheckIn, request: Request, who: Staff) -> CaseOut:
    kit, settings = _ctx(request)
    case = await service.check_at_window(
        uow=kit.uow, calendar=request.app.state.calendar, case_number=case_number, staff_id=who.sub,
        now=kit.clock.now(), defects=[d.model_dump() for d in body.defects],
        warning_before=timedelta(hours=settings.warning_before_hours))
    return CaseOut.of(case)


@router.post("/{case_number}/materials", response_model=CaseOut, summary="Supplement the materials listed")
async def supplement(case_number: str, body: MaterialsIn, request: Request, who: Applicant) -> CaseOut:
    kit, _ = _ctx(request)
    return CaseOut.of(await service.supplement(uow=kit.uow, case_number=case_number, applicant_id=who.sub,
                                               materials=body.materials, now=kit.clock.now()))


@router.post("/{case_number}/steps/{step}/decision", response_model=CaseOut,
             summary="A department reviewer approves, returns for correction, or rejects its step")
async def decide(case_number: str, step: Step, body: DecisionIn, request: Request, who: Reviewer) -> CaseOut:
    kit, _ = _ctx(request)
    service.ensure_reviewer_may_decide(department=who.department, step=step)
    case = await service.decide(uow=kit.uow, case_number=case_number, step=step, attempt=body.attempt,
                                decision=body.decision, reviewer=who.sub, now=kit.clock.now(),
                                reasons=[r.model_dump() for r in body.reasons], reason=body.reason,
                                result=body.result)
    assert case is not None
    return CaseOut.of(case)


@router.post("/{case_number}/corrections", response_model=CaseOut,
             summary="Correct exactly the fields a department returned (补正)")
async def correct(case_number: str, body: CorrectionIn, request: Request, who: Applicant) -> CaseOut:
    kit, _ = _ctx(request)
    return CaseOut.of(await service.correct(uow=kit.uow, case_number=case_number, applicant_id=who.sub,
                                            step=Step(body.step), fields=body.fields, now=kit.clock.now()))


@router.put("/{case_number}/helper", response_model=CaseOut, summary="Assign a helper (帮办) to a case")
async def assign_helper(case_number: str, body: HelperIn, request: Request,
                        who: Annotated[Principal, Depends(require(Role.SUPERVISOR, Role.WINDOW_STAFF))]) -> CaseOut:
    kit, _ = _ctx(request)
    return CaseOut.of(await service.assign_helper(uow=kit.uow, case_number=case_number, helper_id=body.helper_id,
                                                  by=who.sub, now=kit.clock.now()))
