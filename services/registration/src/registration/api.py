"""Thin HTTP routes."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from registration import service
from registration.schemas import ApplicationIn, ApplicationOut
from servicekit.auth import Principal, Role, require
from servicekit.problems import Problem

router = APIRouter(prefix="/applications", tags=["applications"])


def _out(a: object) -> ApplicationOut:
    return ApplicationOut.model_validate(a, from_attributes=True)


@router.post("", status_code=201, response_model=ApplicationOut, summary="Submit a company start-up application")
async def submit(body: ApplicationIn, request: Request,
                 who: Principal = Depends(require(Role.APPLICANT, Role.WINDOW_STAFF))) -> ApplicationOut:
    kit = request.app.state.kit
    app = await service.submit_application(uow=kit.uow, now=kit.clock.now(), company_name=body.company_name,
                                           applicant_id=who.sub, applicant_phone=body.applicant_phone,
                                           channel=body.channel)
    return _out(app)


@router.get("/{application_id}", response_model=ApplicationOut, summary="Read one application")
async def read(application_id: str, request: Request, who: Principal = Depends(require(*Role))) -> ApplicationOut:
    app = await service.get_application(uow=request.app.state.kit.uow, application_id=application_id)
    if app is None or (who.owner_filter() and app.applicant_id != who.sub):
        raise Problem(404, "Not Found", f"no application {application_id}")
    return _out(app)
