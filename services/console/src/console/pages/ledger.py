"""差评台账 / the bad-rating ledger: open entries by owner and deadline (the callback within 1
working day, the feedback within 3, warned and flagged), one entry's rating and history, and the
forms its state allows: the callback (电话回访), then a rectification's feedback or an explanation."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel

from console import domain, forms
from console.backends import BackendDown, BackendProblem
from console.sessions import Session
from console.web import (
    Console,
    allowed,
    console,
    form_values,
    idempotency_key,
    parse,
    refusal,
    render,
    templates,
)
from servicekit.principal import Role

router = APIRouter(prefix="/ledger", include_in_schema=False)
templates.env.globals.update(time_left=domain.time_left, LEVELS=domain.LEVELS, CHANNELS=domain.CHANNELS,
                             ENTRY_FILTERS=domain.ENTRY_FILTERS, ENTRY_SORTS=domain.ENTRY_SORTS)
Reader = Annotated[Session, Depends(allowed(domain.LEDGER_ROLES))]
Writer = Annotated[Session, Depends(allowed(domain.LEDGER_WRITERS & domain.LEDGER_ROLES))]
EntryId = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")]
Filter = Literal["pending", "open", "rectifying", "answered", "annulled", "all"]
Sort = Literal["deadline", "owner"]
MonthQuery = Annotated[str, Query(pattern=r"^(20[0-9]{2}-(0[1-9]|1[0-2]))?$")]
Step = Literal["callback", "feedback", "explanation"]
_FORMS: dict[str, tuple[type[BaseModel], str, str]] = {  # step: form, the service's path, the confirmation
    "callback": (forms.CallbackForm, "callback", "回访已记录。"),
    "feedback": (forms.FeedbackForm, "feedback", "整改反馈已提交，将发送给评价人。"),
    "explanation": (forms.ExplanationForm, "explanation", "解释说明已提交，将发送给评价人。"),
}


def _mine(session: Session) -> bool:
    """Owners (window staff) see their own entries; supervisors and the oversight bodies all."""
    return session.principal.role not in (Role.SUPERVISOR, Role.OVERSIGHT)


@router.get("")
async def page(request: Request, session: Reader, c: Console = Depends(console), status: Filter = "pending",
               month: MonthQuery = "", sort: Sort = "deadline") -> Response:
    async def fetch(wanted: str | None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"mine": "true" if _mine(session) else "false"}
        if wanted:
            params["status"] = wanted
        if month:
            params["month"] = month
        return list(await c.backends.get("ratings", "/ledger", token=session.token, params=params) or [])

    wanted: list[str | None] = (["open", "rectifying"] if status == "pending" else [None] if status == "all"
                                else [status])
    async def window_names() -> dict[str, str]:  # the roster's names; ids alone if it cannot be read
        try:
            return {str(w["window_id"]): str(w["name"]) for w in
                    await c.backends.get("ratings", "/windows", token=session.token) or []}
        except (BackendProblem, BackendDown):
            return {}

    parts, names = await asyncio.gather(asyncio.gather(*(fetch(w) for w in wanted)), window_names())
    found = [e for part in parts for e in part]
    groups = domain.ledger_groups(found, c.clock.now(), sort=sort, status=status)
    return render(request, "ledger.html", session=session, groups=groups, status_filter=status, month=month, sort=sort,
                  count=sum(len(rows) for _, rows in groups), mine=_mine(session), window_names=names)


async def _entry_page(request: Request, c: Console, session: Session, entry_id: str, status: int = 200,
                      **ctx: Any) -> Response:
    entry = await c.backends.get("ratings", f"/ledger/{entry_id}", token=session.token)
    rating = complaint = None
    about = quote(str(entry.get("case_number", "")), safe="")
    try:
        if entry.get("kind") == "bad_rating":
            rating = (await c.backends.get("ratings", f"/cases/{about}/rating", token=session.token)).get("rating")
        elif entry.get("kind") == "complaint":
            complaint = await c.backends.get("ratings", f"/requests/{about}", token=session.token)
    except BackendProblem as exc:  # the entry is shown without what it is about
        if exc.status not in (403, 404):
            raise
    role, p = session.principal.role, session.principal
    return render(request, "ledger_entry.html", status, session=session,
                  entry=domain.masked(entry, role), row=domain.ledger_row(entry, c.clock.now()),
                  rating=domain.masked(rating, role), complaint=domain.masked(complaint, role),
                  history=[replace(h, detail=domain.masked(h.detail, role)) for h in domain.entry_history(entry, rating)],
                  actions=domain.entry_actions(entry, role, p.sub),
                  done=_FORMS[d][2] if (d := request.query_params.get("done", "")) in _FORMS else "", **ctx)


@router.get("/{entry_id}")
async def entry_page(request: Request, entry_id: EntryId, session: Reader, c: Console = Depends(console)) -> Response:
    return await _entry_page(request, c, session, entry_id)


@router.post("/{entry_id}/{step}")
async def act(request: Request, entry_id: EntryId, step: Step, session: Writer,
              c: Console = Depends(console)) -> Response:
    model, path, _ = _FORMS[step]
    values = await form_values(request)
    form, errors = parse(model, values)
    if form is not None:
        body = ({"outcome": form.outcome, "reasonable": form.reasonable} if isinstance(form, forms.CallbackForm)
                else {"text": getattr(form, step)})
        try:
            await c.backends.call("ratings", "POST", f"/ledger/{entry_id}/{path}", token=session.token, json=body,
                                  idempotency_key=await idempotency_key(request))
            return RedirectResponse(f"/ledger/{entry_id}?done={step}", status_code=303)
        except BackendProblem as exc:
            refusal(exc)
            errors = _field_names(domain.ratings_errors(exc.problem), step)
            if exc.status == 409:
                errors["_"] = f"此条目已有人办理或状态已变化，请查看下方最新状态（{exc.detail}）。"
    return await _entry_page(request, c, session, entry_id, 422, errors=errors, values=values, form=step)


def _field_names(errors: dict[str, str], step: str) -> dict[str, str]:
    """The service calls the feedback's and the explanation's text ``text``; the form names it by its step."""
    return {(step if name == "text" else name): message for name, message in errors.items()}
