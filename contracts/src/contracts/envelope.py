"""The event envelope: CloudEvents 1.0 attributes plus case, correlation and causation ids.

On the wire an event travels in CloudEvents *binary mode*: the context attributes are
Kafka headers (``ce_id``, ``ce_type``, ``ce_source``, ``ce_specversion``, ``ce_time``,
``ce_subject`` and the extensions ``ce_caseno``, ``ce_correlationid``,
``ce_causationid``), the body is the JSON of the event's own fields, and
``content-type`` is ``application/json``. Any CloudEvents SDK reads it.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

SPECVERSION = "1.0"
CONTENT_TYPE = "application/json"

# Envelope attribute -> Kafka header (CloudEvents Kafka protocol binding, binary mode).
_CE_HEADERS: dict[str, str] = {
    "event_id": "ce_id",
    "source": "ce_source",
    "specversion": "ce_specversion",
    "time": "ce_time",
    "subject": "ce_subject",
    "case_number": "ce_caseno",
    "correlation_id": "ce_correlationid",
    "causation_id": "ce_causationid",
}
ENVELOPE_FIELDS = frozenset(_CE_HEADERS)


class InvalidEvent(ValueError):
    """A message that is not a valid event of the expected type; the reason says why."""


def _new_id() -> str:
    return str(uuid.uuid4())


def _now() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    """Base of every integration event: a past-tense fact with a major version suffix.

    Subclasses set ``ce_type`` (reverse-DNS, ending in ``.v<major>``) and declare their
    data fields, each with a description.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")  # tolerant reader: new optional fields pass

    ce_type: ClassVar[str]

    event_id: str = Field(default_factory=_new_id, description="CloudEvents `id`: unique per event, stable across redeliveries.")
    source: str = Field(description="CloudEvents `source`: URI-reference of the producing service, e.g. `/one-window/registration`.")
    specversion: str = Field(default=SPECVERSION, description="CloudEvents `specversion`.")
    time: datetime = Field(default_factory=_now, description="CloudEvents `time`: when the fact happened (UTC).")
    subject: str = Field(description="CloudEvents `subject`: the aggregate the event is about (case number).")
    case_number: str = Field(description="The case (or aggregate) id; also the Kafka key.")
    correlation_id: str = Field(default_factory=_new_id, description="Id shared by every event of one journey.")
    causation_id: str | None = Field(default=None, description="Id of the event or request that caused this one.")

    # -- helpers -----------------------------------------------------------------
    @classmethod
    def caused_by(cls, cause: Event, **fields: Any) -> Self:
        """Build an event that follows ``cause`` in the same journey."""
        fields.setdefault("correlation_id", cause.correlation_id)
        fields.setdefault("causation_id", cause.event_id)
        return cls(**fields)

    def data(self) -> dict[str, Any]:
        """The event's own fields as JSON-ready data (the CloudEvents `data`)."""
        return self.model_dump(mode="json", exclude=set(ENVELOPE_FIELDS))

    @classmethod
    def data_json_schema(cls) -> dict[str, Any]:
        """JSON Schema of the body (data fields only); envelope lives in headers."""
        schema = cls.model_json_schema(mode="serialization")
        props = schema.get("properties", {})
        for name in ENVELOPE_FIELDS:
            props.pop(name, None)
        schema["required"] = [r for r in schema.get("required", []) if r not in ENVELOPE_FIELDS]
        schema["title"] = cls.__name__
        schema["x-cloudevents-type"] = cls.ce_type
        return schema

    # -- wire format -------------------------------------------------------------
    def to_wire(self) -> tuple[bytes, dict[str, str]]:
        """Body and headers in CloudEvents binary mode."""
        headers = {"ce_type": self.ce_type, "content-type": CONTENT_TYPE}
        for attr, header in _CE_HEADERS.items():
            value = getattr(self, attr)
            if value is None:
                continue
            headers[header] = value.isoformat().replace("+00:00", "Z") if isinstance(value, datetime) else str(value)
        body = json.dumps(self.data(), ensure_ascii=False, separators=(",", ":")).encode()
        return body, headers

    @classmethod
    def from_wire(cls, body: bytes, headers: dict[str, Any]) -> Self:
        """Parse a binary-mode message; raise InvalidEvent with the reason."""
        hdrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in headers.items()}
        if hdrs.get("ce_type") != cls.ce_type:
            raise InvalidEvent(f"ce_type is {hdrs.get('ce_type')!r}, expected {cls.ce_type!r}")
        try:
            data = json.loads(body or b"null")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidEvent(f"body is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise InvalidEvent("body is not a JSON object")
        for attr, header in _CE_HEADERS.items():
            if header in hdrs:
                data[attr] = hdrs[header]
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            fields = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise InvalidEvent(f"invalid {cls.__name__}: {fields}") from exc
