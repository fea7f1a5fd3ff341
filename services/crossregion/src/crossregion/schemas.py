"""HTTP DTOs: request bodies (RequestModel: unknown fields refused, every string and list bounded)
and the answers (``response_model``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from contracts.events.crossregion import Matter, Mode
from contracts.vocabulary import DivisionCode, Phone
from crossregion.domain import Backlog, CrossCase, PartnerRegion
from crossregion.ports import AuditRecord
from crossregion.service import Receipt
from servicekit.text import Key, Line, Name, RequestModel

MAX_ITEMS = 20
KeyId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$", description="A key id.")]
PublicKey = Annotated[str, Field(pattern=r"^[A-Za-z0-9+/]{43}=$", description="Ed25519 public key: 32 bytes, base64.")]
Url = Annotated[str, Field(min_length=8, max_length=2048, pattern=r"^https?://[^\s]+$")]


class RegionIn(RequestModel):
    """A partner region (合作地区): register it, or update it (its keys: rotate them)."""

    division_code: DivisionCode
    name: Annotated[str, Name(max_length=60)]
    endpoint: Url = Field(description="Their exchange endpoint (checked by the outbound policy).")
    key_id: KeyId
    public_key: PublicKey
    matters: list[Matter] = Field(min_length=1, max_length=MAX_ITEMS)
    modes: list[Mode] = Field(min_length=1, max_length=3)
    our_key_id: KeyId | Literal[""] = Field(default="", description="Our key they were given (empty: our current).")


class KeyIn(RequestModel):
    """Their new key; the key(s) valid until now stay valid until ``overlap_until``."""

    key_id: KeyId
    public_key: PublicKey
    overlap_until: datetime


class KeyOut(BaseModel):
    key_id: str
    public_key: str
    added_at: datetime
    valid_until: datetime | None


class RegionOut(BaseModel):
    division_code: str
    name: str
    endpoint: str
    keys: list[KeyOut]
    matters: list[str]
    modes: list[str]
    our_key_id: str

    @classmethod
    def of(cls, r: PartnerRegion) -> RegionOut:
        return cls(division_code=r.division_code, name=r.name, endpoint=r.endpoint, matters=r.matters, modes=r.modes,
                   keys=[KeyOut(key_id=k.key_id, public_key=k.public_key, added_at=k.added_at,
                                valid_until=k.valid_until) for k in r.keys], our_key_id=r.our_key_id)


class OurKeysOut(BaseModel):
    region_code: str
    keys: dict[str, str] = Field(description="Our public keys by key id (Ed25519, base64): give them to partners.")


class CrossCaseIn(RequestModel):
    """An application taken at our window for a matter other regions handle (identity checked and
    formal review passed here)."""

    mode: Literal["proxy", "joint"] = Field(description="proxy: 异地代收代办 (one region); joint: 多地联办.")
    matter: Matter
    handling_regions: list[DivisionCode] = Field(min_length=1, max_length=MAX_ITEMS)
    applicant_id: Key
    applicant_phone: Phone | None = None
    form: dict[str, Any] = Field(description="The matter's form (the handling region's registration checks it).")
    deliver_at: Literal["origin", "handling"] = Field(default="origin",
                                                      description="Where the applicant collects the result.")


class OnlineIn(RequestModel):
    """全程网办: an applicant from elsewhere applies online for a matter handled here."""

    matter: Matter
    form: dict[str, Any]
    applicant_phone: Phone | None = None


class CustodyIn(RequestModel):
    action: Literal["sent", "received", "returned"]
    waybill: Annotated[str, Line(max_length=40)] = Field(description="The courier's waybill number.")
    carrier: Annotated[str, Line(max_length=40)] = "EMS"
    sent_to: DivisionCode | None = Field(default=None, description="sent: the region it goes to (default: the "
                                         "handling region, or the origin for an inbound case).")


class PartOut(BaseModel):
    region: str
    region_name: str
    status: str
    remote_case_number: str | None
    completed_at: datetime | None


class TimelineOut(BaseModel):
    at: datetime
    action: str
    actor: str
    region: str
    detail: str


class CustodyOut(BaseModel):
    waybill: str
    carrier: str
    status: str
    sent_to: str
    updated_at: datetime


class CrossCaseOut(BaseModel):
    reference: str
    direction: str
    mode: str
    matter: str
    origin_region: str
    status: str
    applicant_id: str
    deliver_at: str
    parts: list[PartOut]
    custody: list[CustodyOut]
    timeline: list[TimelineOut]
    opened_at: datetime
    completed_at: datetime | None

    @classmethod
    def of(cls, c: CrossCase) -> CrossCaseOut:
        return cls(reference=c.reference, direction=c.direction, mode=c.mode, matter=c.matter,
                   origin_region=c.origin_region, status=c.status, applicant_id=c.applicant_id,
                   deliver_at=c.deliver_at, opened_at=c.opened_at, completed_at=c.completed_at,
                   parts=[PartOut(region=p.region, region_name=c.region_names.get(p.region, p.region), status=p.status,
                                  remote_case_number=p.remote_case_number, completed_at=p.completed_at)
                          for p in c.parts.values()],
                   custody=[CustodyOut(waybill=x.waybill, carrier=x.carrier, status=x.status, sent_to=x.sent_to,
                                       updated_at=x.updated_at) for x in c.custody],
                   timeline=[TimelineOut(at=t.at, action=t.action, actor=t.actor, region=t.region, detail=t.detail)
                             for t in c.timeline])


class ReceiptOut(BaseModel):
    exchange_id: str
    outcome: Literal["accepted", "duplicate"]
    reference: str

    @classmethod
    def of(cls, r: Receipt) -> ReceiptOut:
        return cls(exchange_id=r.exchange_id, outcome=r.outcome, reference=r.reference)  # type: ignore[arg-type]


class BacklogOut(BaseModel):
    pending: int
    oldest_age_seconds: float
    oldest_created_at: datetime | None
    by_region: dict[str, int]

    @classmethod
    def of(cls, b: Backlog, now: datetime) -> BacklogOut:
        return cls(pending=b.pending, oldest_age_seconds=b.oldest_age_seconds(now),
                   oldest_created_at=b.oldest_created_at, by_region=b.by_region)


class AuditOut(BaseModel):
    at: datetime
    outcome: str
    status: int
    reason: str
    exchange_id: str | None
    sender: str | None
    key_id: str | None

    @classmethod
    def of(cls, a: AuditRecord) -> AuditOut:
        return cls(at=a.at, outcome=a.outcome, status=a.status, reason=a.reason, exchange_id=a.exchange_id,
                   sender=a.sender, key_id=a.key_id)
