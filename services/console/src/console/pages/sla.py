"""时限看板 / the SLA board: registration cases and approval stages at risk or overdue, per
department and matter, with the working-day deadline and the time left; helpers assigned."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import RedirectResponse, Response

from console import domain
from console.backends import BackendDown, BackendProblem
from console.forms import HelperForm
from console.sessions import Session
from console.web import Console, allowed, console, form_values, idempotency_key, parse, problem_errors, refusal, render

router = APIRouter(prefix="/sla", include_in_schema=False)
Viewer = Annotated[Session, Depends(allowed(domain.SLA_ROLES))]
Assigner = Annotated[Session, Depends(allowed(domain.ASSIGN_ROLES))]
Service = Literal["registration", "approvals"]
CaseNumber = Annotated[str, Path(max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9-]*$")]
_LISTS = {"registration": "/cases", "approvals": "/stages"}
_ONE = {"registration": "/cases/{}", "approvals": "/stages/{}"}


async def board(c: Console, session: Session) -> tuple[domain.SlaBoard, list[str]]:
    """The board, and the services that did not answer (their cases are missing from it)."""
    down: list[str] = []

    async def fetch(service: str, view: str) -> list[dict[str, Any]]:
        try:
            found = await c.backends.get(service, _LISTS[service], token=session.token, params={"view": view})
        except BackendDown:
            down.append(service)
            return []
        return list(found or [])

    reg_risk, reg_late, st_risk, st_late = await asyncio.gather(
        fetch("registration", "at_risk"), fetch("registration", "overdue"),
        fetch("approvals", "at_risk"), fetch("approvals", "overdue"))
    return domain.SlaBoard.of([*reg_risk, *reg_late], [*st_risk, *st_late]), sorted(set(down))


@router.get("")
async def page(request: Request, session: Viewer, c: Console = Depends(console)) -> Response:
    found, down = await board(c, session)
    return render(request, "sla.html", board=found, down=down, session=session,
                  can_assign=session.principal.role in domain.ASSIGN_ROLES,
                  assigned=request.query_params.get("assigned", "")[:40])


@router.get("/table")
async def table(request: Request, session: Viewer, c: Console = Depends(console)) -> Response:
    """The board's tables alone (htmx reloads them every ``sla_refresh_seconds``)."""
    found, down = await board(c, session)
    return render(request, "sla_tables.html", board=found, down=down, session=session,
                  can_assign=session.principal.role in domain.ASSIGN_ROLES)


@router.get("/{service}/{case_number}/helper")
async def helper_form(request: Request, service: Service, case_number: CaseNumber, session: Assigner,
                      c: Console = Depends(console)) -> Response:
    case = await c.backends.get(service, _ONE[service].format(case_number), token=session.token)
    return render(request, "sla_helper.html", service=service, case_number=case_number, case=case,
                  values={"helper_id": (case or {}).get("helper_id") or ""}, session=session)


@router.post("/{service}/{case_number}/helper")
async def assign(request: Request, service: Service, case_number: CaseNumber, session: Assigner,
                 c: Console = Depends(console)) -> Response:
    values = await form_values(request)
    form, errors = parse(HelperForm, values)
    if form is not None:
        try:
            await c.backends.call(service, "PUT", _ONE[service].format(case_number) + "/helper", token=session.token,
                                  json={"helper_id": form.helper_id}, idempotency_key=await idempotency_key(request))
            return RedirectResponse(f"/sla?assigned={case_number}", status_code=303)
        except BackendProblem as exc:
            errors = problem_errors(refusal(exc))
    return render(request, "sla_helper.html", 422, service=service, case_number=case_number, case=None,
                  values=values, errors=errors, session=session)
