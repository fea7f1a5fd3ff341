"""大厅屏 / hall screens: public (no login), large type, rotating slides — the red and black
list on display, today's figures, each window's current business. Only public data: names
of windows and of the staff on the list or on duty, counts and rates; any phone or ID number
a service sent is masked. A service that does not answer leaves its slide saying 暂无数据.
``?screen=list|today|windows`` shows one slide only (a screen above one window)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from console.backends import BackendDown, BackendProblem
from console.domain import reports
from console.web import Console, console, render

router = APIRouter(prefix="/hall", include_in_schema=False)
Screen = Annotated[str | None, Query(max_length=20)]


async def _public(call: Awaitable[Any]) -> Any:
    """A public endpoint's answer, ``None`` when it has none for us (down, missing, refused)."""
    try:
        return await call
    except (BackendDown, BackendProblem):
        return None


async def slides(c: Console, screen: str | None) -> dict[str, Any]:
    wanted = (screen,) if screen in reports.SCREENS else reports.SCREENS
    lists, today, hall = await asyncio.gather(
        _public(c.backends.get("ratings", "/lists/current")) if "list" in wanted else asyncio.sleep(0),
        _public(c.backends.get("registration", "/statistics/today")) if "today" in wanted else asyncio.sleep(0),
        _public(c.backends.get("ratings", "/hall")) if {"today", "windows"} & set(wanted) else asyncio.sleep(0))
    hall = hall if isinstance(hall, dict) else None
    return {"screens": wanted, "screen": screen if screen in reports.SCREENS else "",
            "board": reports.hall_list(lists) if lists is not None else None, "lists_answered": lists is not None,
            "today": reports.hall_today(c.clock.now(), today if isinstance(today, dict) else None, hall),
            "windows": reports.hall_windows(hall), "windows_answered": hall is not None}


@router.get("")
async def page(request: Request, screen: Screen = None, c: Console = Depends(console)) -> Response:
    return render(request, "hall.html", **await slides(c, screen))


@router.get("/slides")
async def fragment(request: Request, screen: Screen = None, c: Console = Depends(console)) -> Response:
    """The slides alone (htmx reloads them every ``hall_refresh_seconds``)."""
    return render(request, "hall_slides.html", **await slides(c, screen))
