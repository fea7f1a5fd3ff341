"""Thin HTTP routes: parse → one use case → DTO; state-changing routes through the kit's ``Once``."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from approvals.domain import DomainError
from approvals.schemas import (
    CorrectionIn,
    DecisionIn,
    HelperIn,
    MaterialIn,
    ProjectIn,
    ProjectOut,
    StageIn,
    StageOut,
    StageStatistics,
    SupplementIn,
    TimelineEntry,
)
from approvals.service import Approvals, View
from servicekit.app import Provide
from servicekit.auth import Principal, Role, require
from servicekit.idempotency import Once

TITLE = "One Window — Construction project approvals (工程建设项目审批)"
DESCRIPTION = ("Four stages with one merged form each, parallel department review, joint completion acceptance, "
               "utility hookups; permits issued together at one window.")
cases = Provide[Approvals]("approvals")
Cases = Annotated[Approvals, Depends(cases)]
Applicant = Annotated[Principal, Depends(require(Role.APPLICANT, Role.WINDOW_STAFF))]
Staff = Annotated[Principal, Depends(require(Role.WINDOW_STAFF))]
Deciding = Annotated[Principal, Depends(require(Role.REVIEWER, Role.WINDOW_STAFF))]
Supervising = Annotated[Principal, Depends(require(Role.HELPER, Role.SUPERVISOR, Role.WINDOW_STAFF, Role.OPERATOR))]
Assigning = Annotated[Principal, Depends(require(Role.SUPERVISOR, Role.WINDOW_STAFF))]
Reading = Annotated[Principal, Depends(require(*Role))]
Watching = Annotated[Principal, Depends(require(Role.SUPERVISOR, Role.OVERSIGHT, Role.OPERATOR, Role.WINDOW_STAFF))]
router = APIRouter(tags=["approvals"])
PROJECT, STAGE = "/projects/{code}", "/stages/{case_number}"


def _bytes(body: MaterialIn) -> bytes:
    try:
        return base64.b64decode(body.content_base64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DomainError("not base64", [{"field": "content_base64", "message": "not valid base64"}]) from exc


@router.post("/projects", status_code=201, response_model=ProjectOut, summary="Register a construction project")
async def register(body: ProjectIn, who: Applicant, uc: Cases, once: Once) -> ProjectOut:
    return await once(uc.register_project(who, body.form, applicant_id=body.applicant_id,
                                          applicant_phone=body.applicant_phone), ProjectOut.of)


@router.get(PROJECT, response_model=ProjectOut, summary="A project: its stages, materials and documents")
async def project(code: str, who: Reading, uc: Cases) -> ProjectOut:
    return ProjectOut.of(await uc.get_project(who, code))


@router.post(f"{PROJECT}/materials", response_model=ProjectOut,
             summary="Upload a material once (identified by the sha256 of its bytes); every stage reuses it")
async def upload(code: str, body: MaterialIn, who: Applicant, uc: Cases, once: Once) -> ProjectOut:
    return await once(uc.upload_material(who, code, name=body.name, data=_bytes(body), sha256=body.sha256),
                      ProjectOut.of)


@router.post(f"{PROJECT}/stages", status_code=201, response_model=StageOut,
             summary="Declare the next stage with its one merged form (一张表单)")
async def declare(code: str, body: StageIn, who: Applicant, uc: Cases, once: Once) -> StageOut:
    return await once(uc.declare_stage(who, code, stage=body.stage, form=body.form, utilities=body.utilities,
                                       channel=body.channel), StageOut.of)


@router.get(f"{PROJECT}/timeline", response_model=list[TimelineEntry], summary="Everything that happened to a project")
async def timeline(code: str, who: Reading, uc: Cases) -> list[TimelineEntry]:
    return [TimelineEntry(**e._asdict()) for e in await uc.timeline(who, code)]


@router.get("/stages", response_model=list[StageOut], summary="Stages at risk of missing, or past, their time limit")
async def at_risk(who: Supervising, uc: Cases, view: View = Query("at_risk")) -> list[StageOut]:
    return [StageOut.of(s) for s in await uc.stages_at_risk(view)]


@router.get("/statistics", response_model=list[StageStatistics],
            summary="Per stage: completed, and the share completed the same working day (当日办结)")
async def statistics(who: Watching, uc: Cases) -> list[StageStatistics]:
    return [StageStatistics(**r) for r in await uc.statistics()]


@router.get(STAGE, response_model=StageOut, summary="A stage: items, reviews, documents, history")
async def stage(case_number: str, who: Reading, uc: Cases) -> StageOut:
    return StageOut.of(await uc.get_stage(who, case_number))


@router.post(f"{STAGE}/supplement", response_model=StageOut, summary="Add fields the window listed as missing")
async def supplement(case_number: str, body: SupplementIn, who: Applicant, uc: Cases, once: Once) -> StageOut:
    return await once(uc.supplement(who, case_number, form=body.form), StageOut.of)


@router.post(f"{STAGE}/acceptance", response_model=StageOut,
             summary="The window accepts the stage, or lists everything missing at once (一次性告知)")
async def accept(case_number: str, who: Staff, uc: Cases, once: Once) -> StageOut:
    return await once(uc.check_at_window(who, case_number), StageOut.of)


@router.post(f"{STAGE}/items/{{item}}/decision", response_model=StageOut,
             summary="A department approves, returns or rejects its item (window staff: items authorised to the hall)")
async def decide(case_number: str, item: str, body: DecisionIn, who: Deciding, uc: Cases, once: Once) -> StageOut:
    return await once(uc.decide(who, case_number, item, decision=body.decision, attempt=body.attempt,
                                reasons=[r.model_dump() for r in body.reasons], reason=body.reason,
                                result=body.result), StageOut.of)


@router.post(f"{STAGE}/items/{{item}}/correction", response_model=StageOut,
             summary="Correct exactly what an item's departments returned (补正); only it is reviewed again")
async def correct(case_number: str, item: str, body: CorrectionIn, who: Applicant, uc: Cases, once: Once) -> StageOut:
    return await once(uc.correct(who, case_number, item, form=body.form, materials=body.materials), StageOut.of)


@router.put(f"{STAGE}/helper", response_model=StageOut, summary="Assign a helper (帮办) to a stage")
async def helper(case_number: str, body: HelperIn, who: Assigning, uc: Cases, once: Once) -> StageOut:
    return await once(uc.assign_helper(who, case_number, helper_id=body.helper_id), StageOut.of)
