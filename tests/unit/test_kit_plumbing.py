"""Kit plumbing without I/O: envelope wire format, masking, settings (tokens: test_tokens.py)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import pytest

from contracts import InvalidEvent, topic_for
from contracts.events.registration import ApplicationSubmittedV1, DeadlineRedatedV1
from servicekit.aggregate import Aggregate
from servicekit.auth import Principal, Role
from servicekit.config import ServiceSettings, load, service_config
from servicekit.events import number
from servicekit.telemetry import MaskingJsonFormatter, mask_personal_data
from tests.support.events import make, submitted


def test_wire_round_trip_keeps_every_attribute():
    e = submitted("C1", causation_id="cause-1")
    body, headers = e.to_wire()
    assert headers["ce_id"] == e.event_id and headers["ce_specversion"] == "1.0"
    assert headers["ce_subject"] == "C1" and headers["ce_caseno"] == "C1"
    assert headers["ce_time"].endswith("Z")
    assert "event_id" not in json.loads(body)  # envelope travels in headers only
    assert ApplicationSubmittedV1.from_wire(body, headers) == e


@pytest.mark.parametrize(
    ("body", "headers", "reason"),
    [
        (b"{}", {"ce_type": "other.v1"}, "ce_type"),
        (b"[1]", None, "JSON object"),
        (b"\xff", None, "not JSON"),
        (json.dumps({"channel": "fax"}).encode(), None, "channel"),
    ],
)
def test_invalid_messages_name_the_reason(body, headers, reason):
    _, good_headers = submitted("C1").to_wire()
    with pytest.raises(InvalidEvent, match=reason):
        ApplicationSubmittedV1.from_wire(body, headers or good_headers)


def test_caused_by_carries_correlation_and_causation():
    first = submitted("C1")
    second = ApplicationSubmittedV1.caused_by(first, **submitted("C1").data(), source="/x", subject="C1", case_number="C1")
    assert second.correlation_id == first.correlation_id and second.causation_id == first.event_id


def test_masking_of_id_and_phone_numbers():
    text = "身份证 62010219900307123X 手机 13912345678 金额 12345678901234567890"
    masked = mask_personal_data(text)
    assert "62010219900307123X" not in masked and "620102********123X" in masked
    assert "139****5678" in masked
    assert "12345678901234567890" in masked  # a longer number is not an ID


def test_log_records_are_masked():
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "call %s", ("13912345678",), None)
    out = MaskingJsonFormatter("%(message)s").format(record)
    assert "13912345678" not in out and "139****5678" in out


def test_applicants_are_scoped_to_themselves():
    assert Principal("u-1", Role.APPLICANT).owner_filter() == "u-1"
    assert Principal("s-1", Role.SUPERVISOR).owner_filter() is None


class _Settings(ServiceSettings):
    model_config = service_config("SVC_")


def test_prefixed_env_wins_over_shared(monkeypatch):
    monkeypatch.setenv("MONGODB_URI", "mongodb://shared")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "shared:9092")
    monkeypatch.setenv("SVC_MONGODB_URI", "mongodb://mine")
    s = load(_Settings)
    assert s.mongodb_uri == "mongodb://mine"
    assert s.kafka_bootstrap_servers == "shared:9092"
    assert load(_Settings, kafka_bootstrap_servers="x:1").kafka_bootstrap_servers == "x:1"


def test_events_of_sequenced_topics_are_numbered_from_the_aggregates_own_counter():
    @dataclass(kw_only=True)
    class Case(Aggregate):
        case_number: str

    case = Case(case_number="C-1", event_seq=4)
    first = submitted("C-1")
    redated = make(DeadlineRedatedV1, "C-1", previous_due_at=first.time, due_at=first.time)
    assert topic_for(first).sequenced and not topic_for(redated).sequenced
    out = number([first, redated, submitted("C-1")], case)
    assert [e.case_seq for e in out] == [5, None, 6] and case.event_seq == 6
    assert number([out[0]], case)[0].case_seq == 5 and case.event_seq == 6  # numbered once only
    body, headers = out[0].to_wire()
    assert headers["ce_caseseq"] == "5" and ApplicationSubmittedV1.from_wire(body, headers).case_seq == 5
