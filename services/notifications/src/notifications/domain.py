"""Notifications: messages to applicants, staff and partner agencies. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from contracts import Event
from contracts.events.registration import ApplicationSubmittedV1


class MessageStatus(StrEnum):
    ACCEPTED = "accepted"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"
    EXPIRED = "expired"


@dataclass
class Message:
    message_id: str
    case_number: str
    recipient_id: str
    channel: str
    template: str
    text: str
    created_at: datetime
    source_event_id: str
    trace_id: str | None = None
    status: MessageStatus = MessageStatus.ACCEPTED


def message_for(event: Event, now: datetime, trace_id: str | None) -> Message | None:
    """The applicant's message for an event, or None if the event needs none."""
    if isinstance(event, ApplicationSubmittedV1):
        text = f"【一窗通办】您的企业开办申请（{event.company_name}）已提交，申请号 {event.application_id}。"
        return Message(
            message_id=f"{event.event_id}:applicant",
            case_number=event.case_number,
            recipient_id=event.applicant_id,
            channel="sms",
            template="registration.submitted@1",
            text=text,
            created_at=now,
            source_event_id=event.event_id,
            trace_id=trace_id,
        )
    return None
