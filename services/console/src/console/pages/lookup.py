"""办件查询 / case lookup: one case's timeline across services (its steps, the messages sent to
the applicant, its rating), for window staff answering a phone call. Personal data is masked
unless the role is entitled to it (domain.PERSONAL_DATA_ROLES)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from console import domain
from console.backends import BackendDown, BackendProblem
from console.forms import LookupForm
from console.sessions import Session
from console.web import Console, allowed, console, parse, render

router = APIRouter(prefix="/lookup", include_in_schema=False)
Viewer = Annotated[Session, Depends(allowed(domain.LOOKUP_ROLES))]
_PATHS = {"registration": "/cases/{}", "approvals": "/stages/{}"}


async def _optional(call: Any) -> tuple[Any, str | None]:
    """A part of the page that may be missing: its data, or why it is not shown."""
    try:
        return await call, None
    except BackendDown as exc:
        return None, f"{exc.service} 暂时不可用"
    except BackendProblem as exc:
        return None, None if exc.status == 404 else exc.detail


@router.get("")
async def page(request: Request, session: Viewer, case_number: str | None = Query(None, max_length=200),
               c: Console = Depends(console)) -> Response:
    role = session.principal.role
    if not case_number:
        return render(request, "lookup.html", session=session)
    form, errors = parse(LookupForm, {"case_number": case_number})
    service = domain.service_of(form.case_number) if form else None
    if form is None or service is None:
        errors = errors or {"case_number": "请输入企业开办（QY/BG 开头）或工程建设审批阶段（GC 开头）的办件编号"}
        return render(request, "lookup.html", 422, errors=errors, values={"case_number": case_number}, session=session)
    number = form.case_number
    try:
        case = await c.backends.get(service, _PATHS[service].format(number), token=session.token)
    except BackendProblem as exc:
        if exc.status != 404:
            raise
        return render(request, "lookup.html", 404, values={"case_number": number}, session=session,
                      errors={"case_number": f"没有找到办件 {number}"})
    (messages, messages_note), (rating, rating_note) = await asyncio.gather(
        _optional(c.backends.get("notifications", "/messages", token=session.token,
                                 params={"case_number": number})),
        _optional(c.backends.get("ratings", f"/cases/{number}/rating", token=session.token)))
    case, messages = domain.masked(case, role), domain.masked(messages or [], role)
    return render(request, "lookup.html", session=session, values={"case_number": number}, service=service,
                  case=case, rating=rating, messages=messages, messages_note=messages_note, rating_note=rating_note,
                  timeline=domain.timeline(case, messages, rating),
                  row=domain.registration_row(case) if service == "registration" else domain.approvals_row(case))
