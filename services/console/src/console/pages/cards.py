"""评价卡 / paper rating cards: in the morning a range of serials issued to a window's staff
member; during the day and in the evening the cards dropped in the box, returned unused or
voided; in the evening each window's day reconciled (issued = used + returned + void) and the
day's report, its mismatches shown as alarms."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from console import domain, forms
from console.backends import BackendProblem
from console.sessions import Session
from console.web import Console, allowed, console, form_values, idempotency_key, parse, refusal, render

router = APIRouter(prefix="/cards", include_in_schema=False)
Staff = Annotated[Session, Depends(allowed(domain.CARD_ROLES))]
DayQuery = Annotated[str, Query(pattern=r"^(20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01]))?$")]
_MOVES = {"drop_good": ("/cards/drops", "good"), "drop_bad": ("/cards/drops", "bad"),
          "return": ("/cards/returns", None), "void": ("/cards/voids", None)}
DONE = {"issued": "已发放 {n} 张评价卡。", "moved": "已登记 {n} 张评价卡。", "reconciled": "已对账，结果见当日对账报告。"}


async def _page(request: Request, c: Console, session: Session, day: str, status: int = 200,
                **ctx: Any) -> Response:
    windows, report = await asyncio.gather(
        c.backends.get("ratings", "/windows", token=session.token),
        c.backends.get("ratings", "/cards/reconciliations", token=session.token, params={"day": day}))
    windows = list(windows or [])
    done = request.query_params.get("done", "")
    n = request.query_params.get("n", "")
    rows = domain.day_report(report or [], windows)
    return render(request, "cards.html", status, session=session, day=day, windows=windows,
                  window_options=domain.window_options(windows), staff_groups=domain.staff_groups(windows),
                  report=rows, moves_key=str(uuid.uuid4()), row_keys={r.window_id: str(uuid.uuid4()) for r in rows}, alarms=[r for r in rows if r.alarm], actions=domain.CARD_ACTIONS,
                  done=DONE[done].format(n=int(n) if n.isdigit() and len(n) < 5 else "若干") if done in DONE else "",
                  **{"form": "", "values": {"day": day}, **ctx})


@router.get("")
async def page(request: Request, session: Staff, c: Console = Depends(console), day: DayQuery = "") -> Response:
    return await _page(request, c, session, day or domain.today(c.clock.now()))


async def _send(request: Request, c: Console, session: Session, path: str, body: dict[str, Any]) -> Any:
    return await c.backends.call("ratings", "POST", path, token=session.token, json=body,
                                 idempotency_key=await idempotency_key(request))


def _day(values: dict[str, Any], c: Console) -> str:
    """The report's day on a page shown again: the form's day if it is one, else today."""
    return domain.day_or_today(values.get("day"), c.clock.now())


@router.post("/issues")
async def issue(request: Request, session: Staff, c: Console = Depends(console)) -> Response:
    values = await form_values(request)
    form, errors = parse(forms.IssueForm, values)
    if form is not None:
        count, errors = domain.serial_range(form.first, form.last)
        if not errors:
            try:
                await _send(request, c, session, "/cards/issues", {
                    "day": form.day, "window_id": form.window_id, "staff_id": form.staff_id,
                    "first": form.first.strip().upper(), "count": count})
                return RedirectResponse(f"/cards?day={form.day}&done=issued&n={count}", status_code=303)
            except BackendProblem as exc:
                refusal(exc)
                errors = {("last" if k == "count" else k): v for k, v in domain.ratings_errors(exc.problem).items()}
    return await _page(request, c, session, _day(values, c), 422, form="issue", errors=errors, values=values)


@router.post("/moves")
async def move(request: Request, session: Staff, c: Console = Depends(console)) -> Response:
    values = await form_values(request)
    form, errors = parse(forms.CardMovesForm, values)
    if form is not None:
        found, errors = domain.serials_field(str(values.get("serials", "")))  # as typed: its line numbers
        if not errors:
            path, slot = _MOVES[form.action]
            body: dict[str, Any] = {"serials": [s for _, s in found], **({"slot": slot} if slot else {})}
            try:
                await _send(request, c, session, path, body)
                return RedirectResponse(f"/cards?done=moved&n={len(found)}", status_code=303)
            except BackendProblem as exc:
                refusal(exc)
                errors = domain.ratings_errors(exc.problem, serials=found)
    return await _page(request, c, session, _day(values, c), 422, form="moves", errors=errors, values=values)


@router.post("/reconciliations")
async def reconcile(request: Request, session: Staff, c: Console = Depends(console)) -> Response:
    values = await form_values(request)
    form, errors = parse(forms.ReconcileForm, values)
    if form is not None:
        try:
            await _send(request, c, session, "/cards/reconciliations", {"day": form.day, "window_id": form.window_id})
            return RedirectResponse(f"/cards?day={form.day}&done=reconciled#report", status_code=303)
        except BackendProblem as exc:
            refusal(exc)
            errors = {"_": domain.ratings_summary(exc.problem)}
    return await _page(request, c, session, _day(values, c), 422, form="reconcile", errors=errors, values=values)

