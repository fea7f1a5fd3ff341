"""The event envelope: CloudEvents 1.0 attributes plus case, correlation and causation ids.

On Kafka an event travels in CloudEvents *binary mode*: the context attributes are
headers (``ce_id``, ``ce_type``, ``ce_source``, ``ce_specversion``, ``ce_time``,
``ce_subject`` and the extensions ``ce_caseno``, ``ce_correlationid``,
``ce_causationid``), the body is the JSON of the event's own fields, and
``content-type`` is ``application/json``. On webhooks and feeds it travels in
*structured mode* (one JSON object, ``application/cloudevents+json``). Both are written
and read by the CloudEvents SDK (``cloudevents`` 2.x, ``cloudevents.core``); the pydantic
models stay the source of the schemas.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Self

from cloudevents.core.base import BaseCloudEvent
from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from pydantic import BaseModel, ConfigDict, Field, ValidationError

SPECVERSION = "1.0"
CONTENT_TYPE = "application/json"

STRUCTURED_CONTENT_TYPE = "application/cloudevents+json"

# Envelope field -> CloudEvents attribute (``ce_<attribute>`` as a Kafka header in binary mode).
_CE_ATTRIBUTES: dict[str, str] = {
    "event_id": "id",
    "source": "source",
    "specversion": "specversion",
    "time": "time",
    "subject": "subject",
    "case_number": "caseno",
    "correlation_id": "correlationid",
    "causation_id": "causationid",
    "case_seq": "caseseq",
}
ENVELOPE_FIELDS = frozenset(_CE_ATTRIBUTES)
CE_HEADERS: dict[str, str] = {field: f"ce_{attr}" for field, attr in _CE_ATTRIBUTES.items()}
"""Envelope field -> its Kafka header in binary mode (the AsyncAPI document lists them)."""


class _Json(JSONFormat):
    """The SDK's JSON format, writing compact UTF-8 (not ``\\uXXXX``) for JSON data."""

    def write_data(self, data: dict[str, Any] | str | bytes | None, datacontenttype: str | None) -> bytes:
        if isinstance(data, dict):
            return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
        return super().write_data(data, datacontenttype)


_FORMAT = _Json()


class InvalidEvent(ValueError):
    """A message that is not a valid event of the expected type; the reason says why."""


def _new_id() -> str:
    return str(uuid.uuid4())


def _now() -> datetime:
    return datetime.now(UTC)


def _body_problem(body: bytes | None) -> str | None:
    """What is wrong with a binary-mode body, if anything (the SDK hands back text it cannot parse)."""
    if not body:
        return "body is empty"
    try:
        data = _FORMAT.read_data(body, CONTENT_TYPE)
    except RecursionError:
        return "body is nested too deep"
    if isinstance(data, (str, bytes)):
        return "body is not JSON"
    return None if isinstance(data, dict) else "body is not a JSON object"


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
    case_seq: int | None = Field(default=None, ge=1, le=1_000_000_000, description=(
        "Extension `caseseq`: this event's number in its case's sequence at its producer (1, 2, 3, ... in the "
        "order the facts happened), on the events of topics in the case's sequence (`TopicSpec.sequenced`); "
        "a reader that gets them across topics puts them back in order. Absent on other events."))

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

    # -- wire format (through the CloudEvents SDK) -----------------------------------
    def to_cloudevent(self, data: dict[str, Any] | None = None) -> BaseCloudEvent:
        """The event as an SDK CloudEvent; ``data`` replaces the event's own (e.g. masked)."""
        attributes: dict[str, Any] = {"type": self.ce_type, "datacontenttype": CONTENT_TYPE}
        for field, attr in _CE_ATTRIBUTES.items():
            value = getattr(self, field)
            if value is not None:
                attributes[attr] = value.astimezone(UTC) if isinstance(value, datetime) else str(value)
        return CloudEvent(attributes, self.data() if data is None else data)

    def to_wire(self) -> tuple[bytes, dict[str, str]]:
        """Body and headers in CloudEvents Kafka binary mode."""
        msg = ce_kafka.to_binary(self.to_cloudevent(), _FORMAT, key_mapper=lambda _e: None)
        return msg.value, {k: v.decode() for k, v in msg.headers.items()}

    def to_structured(self, data: dict[str, Any] | None = None) -> str:
        """The event in CloudEvents structured mode (``application/cloudevents+json``);
        ``data`` replaces the event's own data (e.g. masked for a reader not entitled to it)."""
        written = json.loads(_FORMAT.write(self.to_cloudevent(data)))  # the SDK's mapping, written compact UTF-8
        return json.dumps(written, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_wire(cls, body: bytes, headers: dict[str, Any]) -> Self:
        """Parse a binary-mode message; raise InvalidEvent with the reason."""
        try:
            raw = {k: (v if isinstance(v, bytes) else str(v).encode()) for k, v in headers.items()}
            ce_type = raw.get("ce_type", b"").decode()
        except (UnicodeError, AttributeError) as exc:
            raise InvalidEvent(f"headers are not UTF-8 text: {exc}") from exc
        if ce_type != cls.ce_type:
            raise InvalidEvent(f"ce_type is {ce_type or None!r}, expected {cls.ce_type!r}")
        try:
            event = ce_kafka.from_binary(ce_kafka.KafkaMessage(headers=raw, key=None, value=body or b""), _FORMAT)
        except Exception as exc:  # the SDK's validation errors, bad UTF-8, a recursion limit ...
            body_reason = _body_problem(body)
            reason = f"not a CloudEvent: {type(exc).__name__}: {exc}"
            raise InvalidEvent(f"{body_reason}; {reason}" if body_reason else reason) from exc
        data = event.get_data()
        if not isinstance(data, dict):
            raise InvalidEvent(_body_problem(body) or "body is not a JSON object")
        attributes = event.get_attributes()
        for field, attr in _CE_ATTRIBUTES.items():
            if attr in attributes:
                data[field] = attributes[attr]
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            fields = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise InvalidEvent(f"invalid {cls.__name__}: {fields}") from exc
