"""The committed AsyncAPI document is current and describes every topic of the registry."""

from __future__ import annotations

import copy
import json

from faststream.specification.asyncapi.v3_0_0.schema import ApplicationSchema
from jsonschema import Draft202012Validator

from contracts.asyncapi import DOC_PATH, build, channel_id, dumps, headers_schema, validate
from contracts.envelope import Event
from contracts.topics import SERVICES, TOPICS, all_topic_names, dead_letter_topic
from tests.support.events import submitted


def test_committed_document_is_current() -> None:
    assert DOC_PATH.exists(), f"{DOC_PATH} is missing: run `make asyncapi`"
    committed = json.loads(DOC_PATH.read_text(encoding="utf-8"))
    assert committed == build(), "docs/asyncapi.json is stale: run `make asyncapi` and commit it"
    assert DOC_PATH.read_text(encoding="utf-8") == dumps(build()), "run `make asyncapi` (formatting differs)"


def test_document_is_valid() -> None:
    doc = build()
    assert validate(doc) == []
    parsed = ApplicationSchema.model_validate(doc)  # FastStream's AsyncAPI 3.0.0 object model
    assert parsed.asyncapi == "3.0.0"
    assert set(parsed.channels) == set(doc["channels"])


def test_validate_reports_broken_documents() -> None:
    doc = build()
    broken = copy.deepcopy(doc)
    first_op = next(iter(broken["operations"].values()))
    first_op["action"] = "publish"
    first_op["channel"]["$ref"] = "#/channels/nope"
    broken["channels"]["bad.key"] = {"address": "x", "messages": {}}
    problems = validate(broken)
    assert any("action must be send or receive" in p for p in problems)
    assert any("unresolved $ref '#/channels/nope'" in p for p in problems)
    assert any("'bad.key'" in p for p in problems)
    missing = copy.deepcopy(doc)
    del missing["channels"][channel_id(TOPICS[0].name)]
    assert any(f"topic {TOPICS[0].name!r}" in p for p in validate(missing))


def test_every_topic_is_a_channel_with_kafka_bindings() -> None:
    doc = build()
    addresses = {c["address"]: c for c in doc["channels"].values()}
    assert set(addresses) == set(all_topic_names())
    for spec in TOPICS:
        channel = addresses[spec.name]
        assert channel["bindings"]["kafka"]["partitions"] == spec.partitions
        assert channel["bindings"]["kafka"]["topic"] == spec.name
        message = doc["components"]["messages"][spec.event.__name__]
        assert message["bindings"]["kafka"]["key"]["type"] == "string"
        assert message["headers"]["allOf"][1]["properties"]["ce_type"]["const"] == spec.event.ce_type
    for service in SERVICES:
        assert addresses[dead_letter_topic(service)]["bindings"]["kafka"]["partitions"] == 1


def test_payload_is_the_event_data_schema() -> None:
    doc = build()
    for spec in TOPICS:
        message = doc["components"]["messages"][spec.event.__name__]
        actual = doc["components"]["schemas"][message["payload"]["$ref"].removeprefix("#/components/schemas/")]
        expected = spec.event.data_json_schema()
        assert set(actual["properties"]) == set(expected["properties"])
        assert actual["required"] == expected["required"]
        assert actual["x-cloudevents-type"] == spec.event.ce_type


def test_payload_schema_validates_a_real_body() -> None:
    doc = build()
    payload = doc["components"]["schemas"]["ApplicationSubmittedV1"]
    body, headers = submitted("C-9", channel="app").to_wire()
    assert list(Draft202012Validator(payload).iter_errors(json.loads(body))) == []
    header_schema = headers_schema()
    assert list(Draft202012Validator(header_schema).iter_errors(headers)) == []
    traced = headers | {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    assert list(Draft202012Validator(header_schema).iter_errors(traced)) == []
    assert list(Draft202012Validator(header_schema).iter_errors(headers | {"traceparent": "junk"}))
    no_id = {k: v for k, v in headers.items() if k != "ce_id"}
    assert list(Draft202012Validator(header_schema).iter_errors(no_id)), "ce_id is required"


def test_headers_cover_the_envelope() -> None:
    props = headers_schema()["properties"]
    expected = {
        "ce_id",
        "ce_type",
        "ce_source",
        "ce_specversion",
        "ce_time",
        "ce_subject",
        "ce_caseno",
        "ce_correlationid",
        "ce_causationid",
        "traceparent",
        "content-type",
    }
    assert expected <= set(props)
    _, headers = submitted("C", source="/x", causation_id="cause-1").to_wire()
    assert "ce_causationid" in headers
    assert set(headers) <= set(props), f"to_wire sends headers the document lacks: {set(headers) - set(props)}"
    assert "ce_causationid" not in headers_schema()["required"]
    assert Event.model_fields["causation_id"].default is None


def test_operations_send_by_producer_receive_by_each_consumer() -> None:
    doc = build()
    ops = doc["operations"].values()
    for spec in TOPICS:
        ref = f"#/channels/{channel_id(spec.name)}"
        senders = {o["x-service"] for o in ops if o["channel"]["$ref"] == ref and o["action"] == "send"}
        receivers = {
            (o["x-service"], o["bindings"]["kafka"]["groupId"]["const"])
            for o in ops
            if o["channel"]["$ref"] == ref and o["action"] == "receive"
        }
        assert senders == {spec.producer}
        assert receivers == {(c, c) for c in spec.consumers}
