"""The topic registry follows the naming and versioning rules, and owns every topic string."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from contracts.envelope import ENVELOPE_FIELDS
from contracts.topics import EXTERNAL_PRODUCERS, SERVICES, TOPICS, TopicSpec, all_topic_names, dead_letter_topic

ROOT = Path(__file__).resolve().parents[2]
TOPIC_NAME = re.compile(
    r"^(?P<producer>[a-z][a-z0-9]*)\.(?P<event>[a-z][a-z0-9]*(?:-[a-z0-9]+)*)\.v(?P<major>[1-9]\d*)$"
)
TOPIC_IDS = [t.name for t in TOPICS]


def _kebab(class_name: str) -> str:
    base = re.sub(r"V\d+$", "", class_name)
    return re.sub(r"(?<!^)(?=[A-Z])", "-", base).lower()


def test_registry_is_not_empty() -> None:
    assert TOPICS


@pytest.mark.parametrize("spec", TOPICS, ids=TOPIC_IDS)
def test_topic_name_is_producer_event_kebab_and_major(spec: TopicSpec) -> None:
    m = TOPIC_NAME.match(spec.name)
    assert m, f"{spec.name!r} is not <producer>.<event-kebab>.v<major>"
    assert m["producer"] == spec.producer
    assert m["event"] == _kebab(spec.event.__name__)
    class_major = re.search(r"V(\d+)$", spec.event.__name__)
    assert class_major, f"{spec.event.__name__} lacks the V<major> suffix"
    assert int(class_major[1]) == int(m["major"]) == spec.version


@pytest.mark.parametrize("spec", TOPICS, ids=TOPIC_IDS)
def test_cloudevents_type_ends_with_the_major_version(spec: TopicSpec) -> None:
    ce_type = spec.event.ce_type
    assert ce_type.endswith(f".v{spec.version}"), f"{ce_type} must end with .v{spec.version}"
    assert re.fullmatch(r"[a-z0-9]+(\.[a-z0-9-]+)+", ce_type), f"{ce_type} is not reverse-DNS"


@pytest.mark.parametrize("spec", TOPICS, ids=TOPIC_IDS)
def test_producer_and_consumers_are_known_services(spec: TopicSpec) -> None:
    assert spec.producer in SERVICES or spec.producer in EXTERNAL_PRODUCERS
    assert set(spec.consumers) <= set(SERVICES), f"unknown consumers {set(spec.consumers) - set(SERVICES)}"
    assert spec.producer not in spec.consumers
    assert len(set(spec.consumers)) == len(spec.consumers)
    assert spec.partitions >= 1


def test_names_types_and_classes_are_unique() -> None:
    for what, values in {
        "topic name": [t.name for t in TOPICS],
        "CloudEvents type": [t.event.ce_type for t in TOPICS],
        "event class": [t.event.__name__ for t in TOPICS],
    }.items():
        dupes = [v for v, n in Counter(values).items() if n > 1]
        assert not dupes, f"duplicate {what}: {dupes}"
    topics = all_topic_names()
    assert len(topics) == len(TOPICS) + len(SERVICES), "a dead-letter topic collides with an event topic"
    assert all(dead_letter_topic(s) in topics for s in SERVICES)


@pytest.mark.parametrize("spec", TOPICS, ids=TOPIC_IDS)
def test_every_data_field_has_a_description(spec: TopicSpec) -> None:
    schema = spec.event.data_json_schema()
    assert schema["properties"], f"{spec.event.__name__} has no data fields"
    missing = [name for name, prop in schema["properties"].items() if not prop.get("description")]
    for def_name, sub in schema.get("$defs", {}).items():
        missing += [f"{def_name}.{n}" for n, p in sub.get("properties", {}).items() if not p.get("description")]
    assert not missing, f"{spec.event.__name__}: fields without description: {missing}"
    assert not ENVELOPE_FIELDS & set(schema["properties"]), "envelope fields leaked into data"
    assert (spec.event.__doc__ or "").strip(), f"{spec.event.__name__} needs a docstring"


def _source_files() -> list[Path]:
    files: list[Path] = []
    for pattern in ("services/*/src", "libs/*/src"):
        for src in ROOT.glob(pattern):
            files.extend(p for p in src.rglob("*.py") if "__pycache__" not in p.parts)
    return files


def test_topic_strings_appear_only_in_the_registry() -> None:
    files = _source_files()
    assert files, "found no service or lib sources to scan"
    names = list(all_topic_names())
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in files
        for name in names
        if name in path.read_text(encoding="utf-8")
    ]
    assert not offenders, (
        "topic names are written only in contracts/src/contracts/topics.py; "
        f"use topic_for(...)/dead_letter_topic(...) instead: {offenders}"
    )
