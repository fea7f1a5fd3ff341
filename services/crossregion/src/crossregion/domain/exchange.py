"""What travels between centers: one JSON document per exchange, signed over HTTP (RFC 9421,
see crossregion.signatures). Its ``exchange_id`` is stable across the sender's retries (the
receiver answers a retry with the first outcome); each attempt has its own signature nonce
(a request sent twice as it was is a replay, refused)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.events.crossregion import CrossStatus, Matter, Mode
from contracts.vocabulary import DivisionCode, Phone
from servicekit.text import Line, Text

EXCHANGE_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{7,79}$"
REFERENCE = r"^[1-8]\d{5}-\d{8}-[0-9A-F]{8}$"
Reference = Annotated[str, Field(pattern=REFERENCE, description="The cross-region case's reference.")]
Detail = Annotated[str, Text(max_length=500, min_length=0)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ForwardedCase(_Body):
    kind: Literal["case.forwarded"] = "case.forwarded"
    reference: Reference
    matter: Matter
    mode: Mode
    applicant_id: Annotated[str, Line(max_length=64)]
    applicant_phone: Phone | None = None
    form: dict[str, Any] = Field(description="The matter's form; registration checks it.")
    deliver_at: Literal["origin", "handling"] = "origin"


class StatusUpdate(_Body):
    kind: Literal["case.status"] = "case.status"
    reference: Reference
    seq: int = Field(ge=1, le=1_000_000)
    status: CrossStatus
    at: datetime
    detail: Detail = ""
    case_number: Annotated[str, Line(max_length=64)] | None = None
    within_time_limit: bool = True


class CustodyUpdate(_Body):
    kind: Literal["case.custody"] = "case.custody"
    reference: Reference
    action: Literal["sent", "received", "returned"]
    waybill: Annotated[str, Line(max_length=40)]
    carrier: Annotated[str, Line(max_length=40)] = "courier"
    at: datetime


Body = Annotated[ForwardedCase | StatusUpdate | CustodyUpdate, Field(discriminator="kind")]


class Exchange(_Body):
    """The signed document: who sends it (their division code), its id, what it carries."""

    exchange_id: Annotated[str, Field(pattern=EXCHANGE_ID)]
    sender: DivisionCode
    sent_at: datetime
    body: Body

    def to_json(self) -> str:
        return self.model_dump_json()
