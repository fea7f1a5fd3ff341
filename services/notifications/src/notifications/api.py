"""Thin HTTP routes."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from notifications import service
from notifications.schemas import MessageOut
from servicekit.auth import Principal, Role, require

router = APIRouter(prefix="/messages", tags=["messages"])


@router.get("", response_model=list[MessageOut], summary="Messages sent about a case")
async def for_case(case_number: str, request: Request, who: Principal = Depends(require(*Role))) -> list[MessageOut]:
    messages = await service.messages_for_case(uow=request.app.state.kit.uow, case_number=case_number)
    mine = [m for m in messages if who.owner_filter() in (None, m.recipient_id)]
    return [MessageOut.model_validate(m, from_attributes=True) for m in mine]
