"""HTTP DTOs."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from contracts.vocabulary import PHONE_PATTERN
from servicekit.masking import mask_personal_data
from servicekit.text import Key, Line, RequestModel

# Request bodies refuse unknown fields and bound every list, map and string (decision 23).
MAX_EVENT_TYPES = 50
MAX_FILTER_KEYS = 20
MAX_FILTER_VALUES = 50
MAX_URL = 2048
EventType = Annotated[str, Line(max_length=200)]
FilterValue = Annotated[str, Line(max_length=200)]

ChannelName = Literal["sms", "app_push", "wechat", "email"]


def masked_address(channel: str, address: str) -> str:
    if channel == "email" and "@" in address:
        local, _, domain = address.partition("@")
        return f"{local[:1]}***@{domain}"
    if channel == "wechat":
        return address[:4] + "***"
    return mask_personal_data(address)


class StatusChangeOut(BaseModel):
    at: datetime
    status: str
    note: str = ""


class MessageOut(BaseModel):
    message_id: str
    case_number: str = Field(description="The case the message is about.")
    recipient_id: str
    channel: str
    address: str = Field(description="Where it goes, masked.")
    template: str = Field(description="Template id and version, e.g. `registration.step_returned@1`.")
    title: str
    text: str
    status: str = Field(description="accepted, sending, delivered, failed or expired.")
    urgent: bool
    attempts: int
    provider: str | None = None
    last_error: str | None = None
    created_at: datetime
    next_attempt_at: datetime | None = Field(default=None, description="When the next attempt is due (not final).")
    expires_at: datetime
    delivered_at: datetime | None = None
    source_event_id: str
    trace_id: str | None = None
    history: list[StatusChangeOut] = []

    @classmethod
    def of(cls, m: Any) -> MessageOut:
        return cls(message_id=m.message_id, case_number=m.case_number, recipient_id=m.recipient_id,
                   channel=m.channel, address=masked_address(m.channel, m.address), template=m.template,
                   title=m.title, text=m.text, status=m.status.value, urgent=m.urgent, attempts=m.attempts,
                   provider=m.provider, last_error=m.last_error, created_at=m.created_at, next_attempt_at=m.due_at,
                   expires_at=m.expires_at, delivered_at=m.delivered_at, source_event_id=m.source_event_id,
                   trace_id=m.trace_id,
                   history=[StatusChangeOut(at=h.at, status=h.status.value, note=h.note) for h in m.history])


class PreferencesIn(RequestModel):
    channels: list[ChannelName] = Field(min_length=1, max_length=4, json_schema_extra={"uniqueItems": True},
                                        description="Channels in order of preference, each once; each gets the message. "
                                        "sms needs a phone (given or on file), email an email, wechat a wechat_openid.")
    phone: str | None = Field(default=None, pattern=PHONE_PATTERN, description="Mobile number for SMS.")
    email: Annotated[str, Line(max_length=254, pattern=r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")] | None = Field(
        default=None, description="Address for email.")
    wechat_openid: Annotated[str, Line(max_length=128)] | None = Field(default=None,
                                                                      description="Mini-program openid for WeChat.")
    quiet_hours: Annotated[str, Line(max_length=16, pattern=r"^(off|([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9])$")] | None = Field(default=None, description="Beijing time `HH:MM-HH:MM`, `off`, or omitted for the default.")


class PreferencesOut(BaseModel):
    recipient_id: str
    role: str
    department: str | None = None
    channels: list[str] | None = Field(description="None: the service default.")
    phone: str | None = None
    email: str | None = None
    wechat_openid: str | None = None
    quiet_hours: str | None = Field(description="None: the service default.")
    updated_at: datetime | None = None

    @classmethod
    def of(cls, c: Any) -> PreferencesOut:
        return cls(recipient_id=c.recipient_id, role=c.role, department=c.department,
                   channels=[ch.value for ch in c.channels] if c.channels is not None else None, phone=c.phone,
                   email=c.email, wechat_openid=c.wechat_openid,
                   quiet_hours=str(c.quiet_hours) if c.quiet_hours is not None else None, updated_at=c.updated_at)


class SubscriptionIn(RequestModel):
    event_types: list[EventType] = Field(min_length=1, max_length=MAX_EVENT_TYPES,
                                         description="CloudEvents types (see `GET /event-types`).")
    filters: dict[Key, FilterValue | Annotated[list[FilterValue], Field(max_length=MAX_FILTER_VALUES)]] = Field(
        default={}, max_length=MAX_FILTER_KEYS,
        description="Attribute -> value or any of values, e.g. `{\"department\": \"tax\"}`.")
    webhook_url: Annotated[str, Line(max_length=MAX_URL)] | None = Field(
        default=None, description="Where to POST signed webhooks; omit for pull-only (feed).")
    secret: str | None = Field(default=None, max_length=256, pattern=r"^whsec_[A-Za-z0-9+/=]{32,}$",
                               description="Your own `whsec_` signing secret; by default one is generated.")


class SubscriptionOut(BaseModel):
    subscription_id: str
    agency_id: str
    event_types: list[str]
    filters: dict[str, list[str]]
    webhook_url: str | None
    status: str
    disabled_reason: str | None = None
    created_at: datetime

    @classmethod
    def of(cls, s: Any) -> SubscriptionOut:
        return cls(subscription_id=s.subscription_id, agency_id=s.agency_id, event_types=list(s.event_types),
                   filters={k: list(v) for k, v in s.filters.items()}, webhook_url=s.webhook_url,
                   status=s.status.value, disabled_reason=s.disabled_reason, created_at=s.created_at)


class SubscriptionHealthOut(BaseModel):
    subscription_id: str
    agency_id: str
    enabled: bool = Field(description="Active (disabled subscriptions get no deliveries).")
    delivered_24h: int = Field(description="Webhooks delivered in the last 24 hours.")
    failed_24h: int = Field(description="Deliveries with a failed attempt in the last 24 hours (retried, given up, "
                                        "or delivered later).")
    pending: int = Field(description="Webhooks waiting for their next attempt.")
    last_success_at: datetime | None
    last_failure_at: datetime | None
    last_failure_reason: str | None = Field(description="The last failed attempt's status or error (no payload).")

    @classmethod
    def of(cls, h: Any) -> SubscriptionHealthOut:
        s, x = h.subscription, h.health
        return cls(subscription_id=s.subscription_id, agency_id=s.agency_id, enabled=h.enabled,
                   delivered_24h=x.delivered, failed_24h=x.failed, pending=x.pending,
                   last_success_at=x.last_success_at, last_failure_at=x.last_failure_at,
                   last_failure_reason=x.last_failure_reason)


class SubscriptionCreated(SubscriptionOut):
    secret: str | None = Field(description="The webhook signing secret (`whsec_...`); shown only here, keep it.")

    @classmethod
    def of_new(cls, s: Any) -> SubscriptionCreated:
        return cls(**SubscriptionOut.of(s).model_dump(), secret=s.secret)


class AttemptOut(BaseModel):
    at: datetime
    status_code: int | None
    error: str | None = None


class DeliveryOut(BaseModel):
    webhook_id: str
    event_id: str
    event_type: str
    case_number: str
    status: str = Field(description="pending, delivered, dead_lettered, cancelled, or feed_only.")
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    history: list[AttemptOut]

    @classmethod
    def of(cls, d: Any) -> DeliveryOut:
        return cls(webhook_id=d.delivery_id, event_id=d.event_id, event_type=d.event_type, case_number=d.case_number,
                   status=d.status.value, attempts=d.attempts, next_attempt_at=d.due_at,
                   last_status_code=d.last_status_code, last_error=d.last_error, created_at=d.created_at,
                   delivered_at=d.delivered_at,
                   history=[AttemptOut(at=h.at, status_code=h.status_code, error=h.error) for h in d.history])


class FeedEntry(BaseModel):
    webhook_id: str = Field(description="Same id as the webhook of this event: deduplicate on it.")
    event: dict[str, Any] = Field(description="The event in CloudEvents structured mode (data masked unless entitled).")


class FeedOut(BaseModel):
    entries: list[FeedEntry]
    next: str | None = Field(description="Cursor to pass as `after` for the entries that follow.")

    @classmethod
    def of(cls, items: list[Any], next_cursor: str | None) -> FeedOut:
        return cls(entries=[FeedEntry(webhook_id=d.delivery_id, event=json.loads(d.payload)) for d in items],
                   next=next_cursor)


class AgencyIn(RequestModel):
    departments: list[Key] = Field(default=[], max_length=MAX_EVENT_TYPES,
                                   description="Departments whose private events the agency may receive (its own id always).")
    personal_data: bool = Field(default=False, description="Entitled to ID and phone numbers unmasked.")


class AgencyOut(BaseModel):
    agency_id: str
    departments: list[str]
    personal_data: bool

    @classmethod
    def of(cls, a: Any) -> AgencyOut:
        return cls(agency_id=a.agency_id, departments=sorted(a.departments), personal_data=a.personal_data)


class EventTypeOut(BaseModel):
    type: str = Field(description="CloudEvents type (`ce_type` header on Kafka).")
    topic: str = Field(description="Kafka topic to read it from directly (key: the case number).")
    description: str
    private_to_department: bool = Field(description="True if it names a department: only that department's agency gets it.")
