"""开箱验票 / the monthly box opening: the supervisors open a month's count session; the cards
of each window's box are entered or scanned by serial and slot (suspicious cards flagged, not
counted); the three oversight bodies sign off with their own accounts (ratings takes the body
from the account's ``department`` claim), and the month is final after the third."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from console import domain, forms
from console.backends import BackendProblem
from console.sessions import Session
from console.web import Console, allowed, console, form_values, idempotency_key, parse, refusal, render

router = APIRouter(prefix="/boxes", include_in_schema=False)
Viewer = Annotated[Session, Depends(allowed(domain.BOX_ROLES))]
Opener = Annotated[Session, Depends(allowed(domain.BOX_OPENERS & domain.BOX_ROLES))]
Month = Annotated[str, Path(pattern=r"^20[0-9]{2}-(0[1-9]|1[0-2])$")]
MonthQuery = Annotated[str, Query(pattern=r"^(20[0-9]{2}-(0[1-9]|1[0-2]))?$")]
Count = Annotated[int, Query(ge=0, le=domain.MAX_SERIALS)]


@router.get("")
async def index(request: Request, session: Viewer, c: Console = Depends(console), month: MonthQuery = "") -> Response:
    if month:
        return RedirectResponse(f"/boxes/{month}", status_code=303)
    current = domain.this_month(c.clock.now())
    return render(request, "boxes.html", session=session, months=[current, domain.previous_month(current)],
                  can_open=session.principal.role in domain.BOX_OPENERS, values={"month": current})


@router.post("")
async def open_box(request: Request, session: Opener, c: Console = Depends(console)) -> Response:
    values = await form_values(request)
    form, errors = parse(forms.OpenBoxForm, values)
    if form is not None:
        try:
            await c.backends.call("ratings", "PUT", f"/boxes/{form.month}", token=session.token,
                                  idempotency_key=await idempotency_key(request))
            return RedirectResponse(f"/boxes/{form.month}?done=opened", status_code=303)
        except BackendProblem as exc:
            refusal(exc)
            errors = domain.ratings_errors(exc.problem)
    current = domain.this_month(c.clock.now())
    return render(request, "boxes.html", 422, session=session, months=[current, domain.previous_month(current)],
                  can_open=True, values=values, errors=errors)


async def _month_page(request: Request, c: Console, session: Session, month: str, status: int = 200,
                      **ctx: Any) -> Response:
    p = session.principal
    try:
        box, windows = await asyncio.gather(c.backends.get("ratings", f"/boxes/{month}", token=session.token),
                                            c.backends.get("ratings", "/windows", token=session.token))
    except BackendProblem as exc:
        if exc.status != 404:
            raise
        return render(request, "boxes_month.html", session=session, month=month, box=None, windows=[],
                      can_open=p.role in domain.BOX_OPENERS, values={"month": month})
    try:  # the paper cards counted so far, per window (ratings' running tallies)
        report = await c.backends.get("ratings", "/statistics", token=session.token,
                                      params={"month": month, "by": "window"})
        counted = [(r["key"], r["paper"]) for r in report.get("rows") or [] if r.get("paper")]
    except BackendProblem:
        counted = None
    names = dict(domain.window_options(windows or []))
    view = domain.box_view(box, p.role, p.sub, p.department)
    return render(request, "boxes_month.html", status, session=session, month=month, box=view,
                  window_options=domain.window_options(windows or []), names=names, counted=counted,
                  sign_key=str(uuid.uuid4()),
                  **{"form": "", "values": {}, "done": "", **ctx})


@router.get("/{month}")
async def month_page(request: Request, month: Month, session: Viewer, c: Console = Depends(console),
                     done: str = "", n: Count = 0, flagged: Count = 0) -> Response:
    return await _month_page(request, c, session, month, done=domain.box_done(done, n, flagged))


@router.post("/{month}/votes")
async def count(request: Request, month: Month, session: Viewer, c: Console = Depends(console)) -> Response:
    values = await form_values(request)
    form, errors = parse(forms.VotesForm, values)
    if form is not None:
        found, errors = domain.serials_field(str(values.get("serials", "")))  # as typed: its line numbers
        if not errors:
            body = {"window_id": form.window_id, "votes": [{"serial": s, "slot": form.slot} for _, s in found]}
            try:
                votes = await c.backends.call("ratings", "POST", f"/boxes/{month}/votes", token=session.token,
                                              json=body, idempotency_key=await idempotency_key(request))
                flagged = sum(1 for v in votes or [] if not v.get("counted"))
                return RedirectResponse(f"/boxes/{month}?done=counted&n={len(found)}&flagged={flagged}",
                                        status_code=303)
            except BackendProblem as exc:
                refusal(exc)
                errors = domain.ratings_errors(exc.problem, serials=found)
    return await _month_page(request, c, session, month, 422, form="votes", errors=errors, values=values)


@router.post("/{month}/sign-offs")
async def sign(request: Request, month: Month, session: Viewer, c: Console = Depends(console)) -> Response:
    try:
        await c.backends.call("ratings", "POST", f"/boxes/{month}/sign-offs", token=session.token,
                              idempotency_key=await idempotency_key(request))
        return RedirectResponse(f"/boxes/{month}?done=signed", status_code=303)
    except BackendProblem as exc:
        if exc.status not in (403, 409, 422):
            raise
        return await _month_page(request, c, session, month, exc.status if exc.status == 403 else 422, form="sign",
                                 errors={"_": domain.ratings_summary(exc.problem)})
