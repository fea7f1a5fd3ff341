"""AsyncAPI 3.0.0 document of every topic in the registry.

Channels are the registry's topics and the services' dead-letter topics; each event is
a message whose payload is the event's data schema (``Event.data_json_schema()``) and
whose headers are the CloudEvents Kafka binary-mode headers. Operations: ``send`` by the
producing service, ``receive`` by each consuming service (consumer group = service name).

CLI::

    python -m contracts.asyncapi -o docs/asyncapi.json   # make asyncapi
    python -m contracts.asyncapi                          # print to stdout

The document is JSON (which is also YAML), so contracts needs no YAML library.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from contracts import envelope
from contracts.envelope import CONTENT_TYPE, Event
from contracts.topics import SERVICES, TOPICS, TopicSpec, all_topic_names, dead_letter_topic

ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
DOC_PATH = Path(__file__).resolve().parents[3] / "docs" / "asyncapi.json"
"""``docs/asyncapi.json`` at the workspace root (the package is installed editable)."""

HEADERS_SCHEMA = "CloudEventsKafkaHeaders"
DEAD_LETTER_MESSAGE = "DeadLetteredMessage"

# Headers the service kit's dead-letter publisher adds (servicekit.messaging.DeadLetters).
DLQ_HEADERS = {
    "dlq_reason": "Why the message could not be processed (up to 2000 characters).",
    "dlq_source_topic": "Topic the message was read from.",
    "dlq_source_partition": "Partition it was read from.",
    "dlq_source_offset": "Its offset there.",
    "dlq_consumer_group": "Consumer group that gave up on it.",
    "dlq_at": "When it was dead-lettered (ISO 8601, UTC).",
}

_CHANNEL_KEY = re.compile(r"^[A-Za-z0-9_\-]+$")  # AsyncAPI 3.0: channels and operations map keys
_COMPONENT_KEY = re.compile(r"^[a-zA-Z0-9.\-_]+$")  # AsyncAPI 3.0: components map keys
_TRACEPARENT = r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"

_ATTRIBUTE_NAMES = {
    "event_id": "id",
    "source": "source",
    "specversion": "specversion",
    "time": "time",
    "subject": "subject",
    "case_number": "caseno (extension)",
    "correlation_id": "correlationid (extension)",
    "causation_id": "causationid (extension)",
    "case_seq": "caseseq (extension)",
}


def channel_id(topic: str) -> str:
    """Channel key for a topic address (AsyncAPI keys allow no dots)."""
    return topic.replace(".", "_")


def _contracts_version() -> str:
    try:
        return metadata.version("ow-contracts")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0.0.0"


# -- headers ---------------------------------------------------------------------------


def headers_schema() -> dict[str, Any]:
    """The CloudEvents Kafka binary-mode headers every event carries, from the envelope."""
    props: dict[str, Any] = {
        "ce_type": {
            "type": "string",
            "description": "CloudEvents `type`: reverse-DNS event type ending in `.v<major>`.",
        },
    }
    required = ["ce_type"]
    for attr, header in envelope.CE_HEADERS.items():
        info = Event.model_fields[attr]
        prop: dict[str, Any] = {"type": "string", "description": f"{info.description}"}
        if attr == "time":
            prop["format"] = "date-time"
        if attr == "specversion":
            prop["const"] = envelope.SPECVERSION
        if attr == "case_seq":
            prop["pattern"] = "^[1-9][0-9]{0,9}$"  # an integer attribute, written in decimal in a header
        prop["x-cloudevents-attribute"] = _ATTRIBUTE_NAMES.get(attr, attr.replace("_", ""))
        props[header] = prop
        if info.is_required() or info.default is not None or info.default_factory is not None:
            required.append(header)
    props["content-type"] = {"type": "string", "const": CONTENT_TYPE, "description": "CloudEvents `datacontenttype`."}
    required.append("content-type")
    props["traceparent"] = {
        "type": "string",
        "pattern": _TRACEPARENT,
        "description": "W3C Trace Context `traceparent` of the span that produced the event (kept through the outbox).",
    }
    props["tracestate"] = {"type": "string", "description": "W3C Trace Context `tracestate`, when present."}
    return {
        "type": "object",
        "description": "CloudEvents 1.0 Kafka protocol binding, binary content mode: "
        "context attributes as `ce_*` headers (UTF-8 strings), data as the message value.",
        "properties": props,
        "required": required,
    }


# -- building the document -------------------------------------------------------------


def _rewrite_refs(node: Any, mapping: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out = {k: _rewrite_refs(v, mapping) for k, v in node.items()}
        ref = out.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            out["$ref"] = mapping[ref]
        return out
    if isinstance(node, list):
        return [_rewrite_refs(v, mapping) for v in node]
    return node


def _hoist_payload(event: type[Event], schemas: dict[str, Any]) -> str:
    """Put the event's data schema (and its ``$defs``, namespaced) into components; return its key."""
    schema = copy.deepcopy(event.data_json_schema())
    defs = schema.pop("$defs", {})
    name = event.__name__
    mapping = {f"#/$defs/{d}": f"#/components/schemas/{name}.{d}" for d in defs}
    schemas[name] = _rewrite_refs(schema, mapping)
    for d, sub in defs.items():
        schemas[f"{name}.{d}"] = _rewrite_refs(sub, mapping)
    return name


def _event_message(spec: TopicSpec, payload_key: str) -> dict[str, Any]:
    event = spec.event
    doc = (event.__doc__ or "").strip()
    return {
        "name": event.__name__,
        "title": event.__name__,
        "summary": spec.description or doc.splitlines()[0],
        "description": f"{doc}\n\nCloudEvents type `{event.ce_type}`; Kafka key = case number.",
        "contentType": CONTENT_TYPE,
        "headers": {
            "allOf": [
                {"$ref": f"#/components/schemas/{HEADERS_SCHEMA}"},
                {"type": "object", "properties": {"ce_type": {"type": "string", "const": event.ce_type}}},
            ]
        },
        "payload": {"$ref": f"#/components/schemas/{payload_key}"},
        "correlationId": {
            "description": "Shared by every event of one journey.",
            "location": "$message.header#/ce_correlationid",
        },
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": "The case number (same as the `ce_caseno` header)."},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
        "tags": [{"name": spec.producer}],
        "x-cloudevents-type": event.ce_type,
    }


def _channel(address: str, partitions: int, messages: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {
        "address": address,
        **extra,
        "messages": {m: {"$ref": f"#/components/messages/{ref}"} for m, ref in messages.items()},
        "bindings": {"kafka": {"topic": address, "partitions": partitions, "bindingVersion": KAFKA_BINDING_VERSION}},
    }


def _operation(action: str, service: str, cid: str, message: str, summary: str) -> dict[str, Any]:
    kafka: dict[str, Any] = {"clientId": {"type": "string", "const": service}}
    if action == "receive":
        kafka["groupId"] = {"type": "string", "const": service}
    kafka["bindingVersion"] = KAFKA_BINDING_VERSION
    return {
        "action": action,
        "channel": {"$ref": f"#/channels/{cid}"},
        "summary": summary,
        "messages": [{"$ref": f"#/channels/{cid}/messages/{message}"}],
        "bindings": {"kafka": kafka},
        "tags": [{"name": service}],
        "x-service": service,
    }


def _visibility(private: bool) -> dict[str, str]:
    """The channel's tag: private topics are read only by their listed consumers (Kafka ACLs)."""
    if private:
        return {"name": "private", "description": "Carries full personal data (ID or phone numbers) or a "
                "department's own data: only the producer and the listed consumers may read it (Kafka ACLs, "
                "deploy/kafka/acls.sh)."}
    return {"name": "public", "description": "No full ID or phone number: any platform service may read it."}


def build(topics: Sequence[TopicSpec] = TOPICS, services: Sequence[str] = SERVICES) -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document (a plain dict, deterministic for a given registry)."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {HEADERS_SCHEMA: headers_schema()}
    partitions = all_topic_names()

    for spec in topics:
        name = spec.event.__name__
        cid = channel_id(spec.name)
        messages[name] = _event_message(spec, _hoist_payload(spec.event, schemas))
        channels[cid] = _channel(
            spec.name,
            spec.partitions,
            {name: name},
            title=name,
            description=spec.description,
            tags=[_visibility(spec.private)],
            **{"x-producer": spec.producer, "x-consumers": list(spec.consumers),
               "x-visibility": "private" if spec.private else "public"},
        )
        operations[f"{spec.producer}_send_{name}"] = _operation(
            "send", spec.producer, cid, name, f"{spec.producer} publishes {name} (through its outbox)."
        )
        for consumer in spec.consumers:
            operations[f"{consumer}_receive_{name}"] = _operation(
                "receive", consumer, cid, name, f"{consumer} consumes {name} in consumer group `{consumer}`."
            )

    consuming = {c for spec in topics for c in spec.consumers}
    messages[DEAD_LETTER_MESSAGE] = {
        "name": DEAD_LETTER_MESSAGE,
        "title": "Dead-lettered message",
        "summary": "A message a consumer could not process, kept as it arrived.",
        "description": "The original key, value and headers unchanged, plus headers telling why "
        "it was dead-lettered. The value is whatever arrived (it may not be valid JSON).",
        "headers": {
            "type": "object",
            "description": "The original headers (string-valued ones), plus the `dlq_*` headers.",
            "properties": {name: {"type": "string", "description": text} for name, text in DLQ_HEADERS.items()},
            "required": ["dlq_reason", "dlq_source_topic", "dlq_consumer_group"],
            "additionalProperties": {"type": "string"},
        },
        "payload": {"description": "The original message value, unchanged."},
    }
    for service in services:
        address = dead_letter_topic(service)
        cid = channel_id(address)
        channels[cid] = _channel(
            address,
            partitions.get(address, 1),
            {DEAD_LETTER_MESSAGE: DEAD_LETTER_MESSAGE},
            title=f"{service} dead letters",
            description=f"Messages the {service} service could not process (raw, with the reason in headers).",
            tags=[_visibility(True)],
            **{"x-visibility": "private"},
        )
        if service in consuming:
            operations[f"{service}_send_dead_letter"] = _operation(
                "send", service, cid, DEAD_LETTER_MESSAGE, f"{service} dead-letters a message it cannot process."
            )

    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "One Window integration events",
            "version": _contracts_version(),
            "description": "Events between the One Window services and partner agencies. Every event is a "
            "CloudEvents 1.0 event in Kafka binary mode: attributes in `ce_*` headers, data as JSON value, "
            "key = case number. Generated from contracts/ (`make asyncapi`); do not edit by hand.",
        },
        "defaultContentType": CONTENT_TYPE,
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": schemas,
            "messages": messages,
        },
    }


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


# -- validation ------------------------------------------------------------------------


def _walk_refs(node: Any, path: str = "#") -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                found.append((path, v))
            else:
                found.extend(_walk_refs(v, f"{path}/{k}"))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            found.extend(_walk_refs(v, f"{path}/{i}"))
    return found


def _lookup(doc: dict[str, Any], ref: str) -> Any:
    if not ref.startswith("#/"):
        raise KeyError(ref)
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def validate(doc: dict[str, Any]) -> list[str]:
    """Structural checks of an AsyncAPI 3.0.0 document; returns the problems found."""
    problems: list[str] = []
    if doc.get("asyncapi") != ASYNCAPI_VERSION:
        problems.append(f"asyncapi must be {ASYNCAPI_VERSION!r}")
    info = doc.get("info", {})
    for key in ("title", "version"):
        if not isinstance(info.get(key), str) or not info[key]:
            problems.append(f"info.{key} is required")
    for where, ref in _walk_refs(doc):
        try:
            _lookup(doc, ref)
        except (KeyError, IndexError, TypeError):
            problems.append(f"{where}: unresolved $ref {ref!r}")

    channels, operations = doc.get("channels", {}), doc.get("operations", {})
    for key in list(channels) + list(operations):
        if not _CHANNEL_KEY.match(key):
            problems.append(f"key {key!r} does not match {_CHANNEL_KEY.pattern}")
    for section, entries in doc.get("components", {}).items():
        for key in entries:
            if not _COMPONENT_KEY.match(key):
                problems.append(f"components.{section} key {key!r} does not match {_COMPONENT_KEY.pattern}")

    addresses: dict[str, str] = {}
    for cid, channel in channels.items():
        address = channel.get("address")
        if not isinstance(address, str):
            problems.append(f"channel {cid}: address must be a string")
            continue
        if address in addresses:
            problems.append(f"channels {addresses[address]} and {cid} share the address {address!r}")
        addresses[address] = cid
        if not channel.get("messages"):
            problems.append(f"channel {cid}: no messages")
        for mid, message in channel.get("messages", {}).items():
            try:
                resolved = _lookup(doc, message["$ref"]) if "$ref" in message else message
            except (KeyError, IndexError, TypeError):
                continue  # reported above
            if "payload" not in resolved:
                problems.append(f"channel {cid}: message {mid} has no payload")

    for oid, op in operations.items():
        if op.get("action") not in {"send", "receive"}:
            problems.append(f"operation {oid}: action must be send or receive")
        channel_ref = op.get("channel", {}).get("$ref", "")
        if not channel_ref.startswith("#/channels/"):
            problems.append(f"operation {oid}: channel must be a $ref to #/channels/...")
            continue
        for message in op.get("messages", []):
            if not message.get("$ref", "").startswith(f"{channel_ref}/messages/"):
                problems.append(f"operation {oid}: message {message} is not one of its channel's messages")

    for topic in all_topic_names():
        if topic not in addresses:
            problems.append(f"topic {topic!r} of the registry has no channel")
    return problems


# -- CLI -------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m contracts.asyncapi", description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, help="write the document here instead of stdout")
    args = parser.parse_args(argv)
    doc = build()
    problems = validate(doc)
    if problems:
        print("the generated AsyncAPI document is invalid:", *problems, sep="\n  ", file=sys.stderr)
        return 1
    text = dumps(doc)
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
