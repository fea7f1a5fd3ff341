"""Alert events produced by the notifications service: a message or a partner-agency
webhook that could not be delivered. Operators (and their monitoring) consume them.
Kafka key: the case number of the event that caused the delivery."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from contracts.envelope import Event

MessageChannel = Literal["sms", "app_push", "wechat", "email"]


class MessageDeliveryFailedV1(Event):
    """A notification to an applicant or staff member ended undelivered (failed or expired)."""

    ce_type = "cn.gov.onewindow.notifications.message-delivery-failed.v1"

    message_id: str = Field(description="Id of the message (readable at `GET /messages/{message_id}`).")
    recipient_id: str = Field(description="Account id (or staff group) the message was for.")
    channel: MessageChannel = Field(description="Channel tried: sms, app_push, wechat or email.")
    template: str = Field(description="Template and version used, e.g. `registration.step_returned@1`.")
    status: Literal["failed", "expired"] = Field(description="failed (attempts exhausted or rejected) or expired.")
    attempts: int = Field(description="Delivery attempts made, over all providers.")
    last_error: str | None = Field(default=None, description="The last provider error, if any.")
    source_event_id: str = Field(description="CloudEvents id of the event the message was about.")


class WebhookDeadLetteredV1(Event):
    """A signed webhook to a partner agency was given up after its last retry (dead-lettered)."""

    ce_type = "cn.gov.onewindow.notifications.webhook-dead-lettered.v1"

    webhook_id: str = Field(description="The delivery's `webhook-id` (stable over its retries).")
    subscription_id: str = Field(description="The agency's subscription.")
    agency_id: str = Field(description="The partner agency.")
    event_type: str = Field(description="CloudEvents type of the undelivered event.")
    source_event_id: str = Field(description="CloudEvents id of the undelivered event.")
    attempts: int = Field(description="Attempts made before giving up.")
    last_status_code: int | None = Field(default=None, description="HTTP status of the last attempt (none: no answer).")
    last_error: str | None = Field(default=None, description="Why the last attempt failed.")
