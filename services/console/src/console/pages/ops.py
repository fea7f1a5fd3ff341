"""运维 / operations: each service's readiness (its unauthenticated ``/readyz``), outbox
backlog, dead letters with their reasons, consumer lag (its ``/ops/status``) and the partner
subscriptions' delivery health (notifications). A service that does not answer shows as down;
one that has no ``/ops/status`` yet shows —; the page always renders, and reloads itself."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from console import domain
from console.backends import SERVICES, BackendDown, BackendProblem
from console.domain import reports
from console.sessions import Session
from console.web import Console, allowed, console, render

router = APIRouter(prefix="/ops", include_in_schema=False)
Viewer = Annotated[Session, Depends(allowed(domain.OPS_ROLES))]


def _note(exc: BackendDown | BackendProblem) -> str:
    if isinstance(exc, BackendProblem) and exc.status == 404:
        return "尚未提供"
    if isinstance(exc, BackendProblem) and exc.status == 403:
        return "无权查看"
    return "无应答" if isinstance(exc, BackendDown) else f"出错（{exc.status}）"


async def _status(c: Console, session: Session, service: str, path: str) -> tuple[Any, str]:
    try:
        return domain.masked(await c.backends.get(service, path, token=session.token), session.principal.role), ""
    except (BackendDown, BackendProblem) as exc:
        if isinstance(exc, BackendProblem) and exc.status == 401:
            raise
        return None, _note(exc)


async def _health(c: Console, session: Session, service: str) -> reports.ServiceHealth:
    probe, (status, note) = await asyncio.gather(c.backends.probe(service),
                                                 _status(c, session, service, "/ops/status"))
    return reports.service_health(service, probe, status if isinstance(status, Mapping) else None, note)


async def board(c: Console, session: Session) -> reports.OpsBoard:
    services, (subscriptions, note) = await asyncio.gather(
        asyncio.gather(*(_health(c, session, s) for s in SERVICES)),
        _status(c, session, "notifications", "/ops/subscriptions/health"))
    subs = [s for s in subscriptions if isinstance(s, Mapping)] if isinstance(subscriptions, list) else None
    return reports.OpsBoard(list(services), subs, note)


@router.get("")
async def page(request: Request, session: Viewer, c: Console = Depends(console)) -> Response:
    return render(request, "ops.html", board=await board(c, session), session=session, duration=reports.duration,
                  when=reports.when)


@router.get("/table")
async def table(request: Request, session: Viewer, c: Console = Depends(console)) -> Response:
    """The page's tables alone (htmx reloads them every ``ops_refresh_seconds``)."""
    return render(request, "ops_tables.html", board=await board(c, session), session=session,
                  duration=reports.duration, when=reports.when)
