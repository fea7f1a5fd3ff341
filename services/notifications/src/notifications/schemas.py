"""HTTP DTOs."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class MessageOut(BaseModel):
    message_id: str
    case_number: str
    recipient_id: str
    channel: str
    template: str
    text: str
    status: str
    created_at: datetime
    trace_id: str | None = None
