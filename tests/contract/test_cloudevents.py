"""Both CloudEvents modes go through the SDK (no I/O here; the same through a real broker
with another Kafka client is tests/integration/test_cloudevents_kafka_interop.py)."""

from __future__ import annotations

import json

import pytest
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary
from cloudevents.core.formats.json import JSONFormat

from contracts import InvalidEvent
from contracts.envelope import STRUCTURED_CONTENT_TYPE
from contracts.events.registration import ApplicationSubmittedV1


def _event() -> ApplicationSubmittedV1:
    return ApplicationSubmittedV1(source="/one-window/registration", subject="QY1", case_number="QY1",
                                  causation_id="req-1", application_id="QY1", company_name="兰州甲有限公司",
                                  applicant_id="u-1", channel="web", applicant_phone="13912345678")


def test_binary_mode_round_trips_and_keeps_utf8_compact() -> None:
    e = _event()
    body, headers = e.to_wire()
    assert "兰州甲有限公司".encode() in body and b" " not in body
    assert headers["content-type"] == "application/json" and headers["ce_caseno"] == "QY1"
    ce = from_binary(KafkaMessage({k: v.encode() for k, v in headers.items()}, None, body), JSONFormat())
    assert (ce.get_id(), ce.get_extension("correlationid")) == (e.event_id, e.correlation_id)
    assert ApplicationSubmittedV1.from_wire(body, headers) == e


def test_structured_mode_reads_with_the_sdk_and_carries_replaced_data() -> None:
    e = _event()
    text = e.to_structured({"applicant_phone": "139****5678"})
    ce = JSONFormat().read(None, text.encode())
    assert ce.get_type() == e.ce_type and ce.get_id() == e.event_id and ce.get_subject() == "QY1"
    assert ce.get_time() == e.time and ce.get_extension("caseno") == "QY1"
    assert ce.get_data() == {"applicant_phone": "139****5678"}
    assert json.loads(e.to_structured())["data"] == e.data()
    assert STRUCTURED_CONTENT_TYPE == JSONFormat().get_content_type().split(";")[0]


@pytest.mark.parametrize(("body", "reason"), [
    (b"{", "body is not JSON"),
    (b"", "body is empty"),
    (b"[1]", "not a JSON object"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deep"),
])
def test_poison_bodies_are_invalid_events_with_a_reason(body: bytes, reason: str) -> None:
    _, headers = _event().to_wire()
    with pytest.raises(InvalidEvent, match=reason):
        ApplicationSubmittedV1.from_wire(body, headers)


def test_a_header_that_is_not_utf8_is_an_invalid_event() -> None:
    body, headers = _event().to_wire()
    raw = {k: v.encode() for k, v in headers.items()} | {"ce_source": b"\xff\xfe"}
    with pytest.raises(InvalidEvent, match="utf-8"):
        ApplicationSubmittedV1.from_wire(body, raw)
