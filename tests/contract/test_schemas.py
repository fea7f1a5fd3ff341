"""Committed JSON-Schema snapshots match the models, and no change breaks a topic's contract."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from contracts.events.registration import ApplicationSubmittedV1
from contracts.schemas import (
    SCHEMA_DIR,
    breaking_changes,
    check_snapshots,
    committed_topics,
    dumps,
    load_snapshot,
    snapshot,
    snapshot_path,
    snapshots,
    write_snapshots,
)
from contracts.topics import TOPICS, TopicSpec
from tests.support.events import submitted

TOPIC_IDS = [t.name for t in TOPICS]


# -- the committed snapshots -----------------------------------------------------------


def test_registry_is_not_empty() -> None:
    assert TOPICS, "the registry has no topics: nothing below would be checked"


@pytest.mark.parametrize("spec", TOPICS, ids=TOPIC_IDS)
def test_every_topic_has_a_committed_snapshot_equal_to_the_model(spec: TopicSpec) -> None:
    committed = load_snapshot(spec.name)
    assert committed is not None, f"no snapshot {snapshot_path(spec.name)} for topic {spec.name}: run `make schemas`"
    assert committed == snapshot(spec), (
        f"snapshot of {spec.name} is stale: run `make schemas` and commit contracts/schemas/"
    )


@pytest.mark.parametrize("spec", TOPICS, ids=TOPIC_IDS)
def test_committed_snapshot_text_is_what_write_produces(spec: TopicSpec) -> None:
    text = snapshot_path(spec.name).read_text(encoding="utf-8")
    assert text == dumps(snapshot(spec)), f"{spec.name}: run `make schemas` (formatting differs)"


def test_no_snapshot_without_a_topic() -> None:
    orphans = committed_topics() - {t.name for t in TOPICS}
    assert not orphans, (
        f"snapshots of topics no longer in the registry: {sorted(orphans)}; removing a topic breaks its "
        "consumers: keep it until they moved, then delete the snapshot (`python -m contracts.schemas write --force`)"
    )


@pytest.mark.parametrize("spec", TOPICS, ids=TOPIC_IDS)
def test_current_model_is_compatible_with_its_committed_snapshot(spec: TopicSpec) -> None:
    """Same topic name (same major version) -> only additive changes are allowed."""
    committed = load_snapshot(spec.name)
    if committed is None:
        pytest.fail(f"no snapshot for {spec.name}: run `make schemas`")
    problems = breaking_changes(committed, snapshot(spec))
    assert problems == [], (
        f"breaking change on {spec.name}: {problems}. Publish a new V{spec.version + 1} event class and "
        "topic beside this one instead (contracts/README.md, 'Versioning')."
    )


@pytest.mark.parametrize("spec", TOPICS, ids=TOPIC_IDS)
def test_snapshot_is_a_valid_json_schema_naming_its_topic(spec: TopicSpec) -> None:
    schema = snapshot(spec)
    Draft202012Validator.check_schema(schema)
    assert schema["x-topic"] == spec.name
    assert schema["x-cloudevents-type"] == spec.event.ce_type


def test_snapshot_accepts_a_real_event_and_rejects_a_wrong_one() -> None:
    spec = next(t for t in TOPICS if t.event is ApplicationSubmittedV1)
    validator = Draft202012Validator(snapshot(spec))
    event = submitted("C-1")
    assert list(validator.iter_errors(event.model_dump(mode="json"))) == []
    wrong = event.model_dump(mode="json") | {"channel": "fax"}
    assert list(validator.iter_errors(wrong)), "a value outside the Literal must not validate"


def test_check_and_write_cli_helpers(tmp_path) -> None:
    findings = check_snapshots(tmp_path)
    assert {f.kind for f in findings} == {"missing"} and len(findings) == len(TOPICS)
    written, refused = write_snapshots(tmp_path)
    assert refused == [] and sorted(written) == sorted(TOPIC_IDS)
    assert check_snapshots(tmp_path) == []
    assert {p.name for p in tmp_path.iterdir()} == {f"{t}.json" for t in TOPIC_IDS}

    # a breaking change in a committed snapshot is refused unless forced
    name = TOPIC_IDS[0]
    path = snapshot_path(name, tmp_path)
    old = json.loads(path.read_text(encoding="utf-8"))
    old["properties"]["gone_field"] = {"type": "string", "description": "removed since"}
    path.write_text(dumps(old), encoding="utf-8")
    assert [f.kind for f in check_snapshots(tmp_path)] == ["breaking"]
    written, refused = write_snapshots(tmp_path)
    assert written == [] and refused and "gone_field" in str(refused[0])
    written, refused = write_snapshots(tmp_path, force=True)
    assert written == [name] and refused == []

    # an orphan snapshot is reported and refused, then deleted with force
    snapshot_path("old.topic.v1", tmp_path).write_text("{}\n", encoding="utf-8")
    assert [(f.topic, f.kind) for f in check_snapshots(tmp_path)] == [("old.topic.v1", "orphan")]
    assert write_snapshots(tmp_path)[1]
    write_snapshots(tmp_path, force=True)
    assert not snapshot_path("old.topic.v1", tmp_path).exists()


def test_snapshot_dir_is_in_the_contracts_project() -> None:
    assert SCHEMA_DIR.parts[-2:] == ("contracts", "schemas")
    assert set(snapshots()) == set(TOPIC_IDS)


# -- breaking_changes on synthetic schemas ---------------------------------------------


def _base() -> dict[str, Any]:
    return {
        "type": "object",
        "x-cloudevents-type": "cn.example.thing-happened.v1",
        "properties": {
            "id": {"type": "string", "description": "id"},
            "count": {"type": "integer", "description": "count"},
            "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
            "channel": {"type": "string", "enum": ["web", "app", "window"]},
            "kind": {"type": "string", "const": "a"},
            "at": {"type": "string", "format": "date-time"},
            "address": {"$ref": "#/$defs/Address"},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["id", "count", "channel", "address"],
        "$defs": {
            "Address": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "zip": {"type": "string"}},
                "required": ["city"],
            }
        },
    }


def _changed(edit) -> dict[str, Any]:
    schema = copy.deepcopy(_base())
    edit(schema)
    return schema


def test_identical_schemas_have_no_breaking_change() -> None:
    assert breaking_changes(_base(), _base()) == []


def test_new_optional_field_is_not_breaking() -> None:
    new = _changed(lambda s: s["properties"].update(extra={"type": "string"}))
    assert breaking_changes(_base(), new) == []


def test_descriptions_titles_and_defaults_are_not_breaking() -> None:
    def edit(s):
        s["properties"]["id"]["description"] = "another text"
        s["properties"]["count"]["title"] = "Count"
        s["properties"]["note"]["default"] = "x"

    assert breaking_changes(_base(), _changed(edit)) == []


def test_new_enum_value_is_not_breaking() -> None:
    new = _changed(lambda s: s["properties"]["channel"]["enum"].append("wechat"))
    assert breaking_changes(_base(), new) == []


def test_removed_field_is_breaking() -> None:
    new = _changed(lambda s: s["properties"].pop("count") and s["required"].remove("count"))
    problems = breaking_changes(_base(), new)
    assert len(problems) == 1 and "'count' removed" in problems[0]


def test_removed_optional_field_is_breaking() -> None:
    new = _changed(lambda s: s["properties"].pop("note"))
    assert any("'note' removed" in p for p in breaking_changes(_base(), new))


def test_renamed_field_shows_as_removed() -> None:
    def edit(s):
        s["properties"]["amount"] = s["properties"].pop("count")

    problems = breaking_changes(_base(), _changed(edit))
    assert any("'count' removed" in p for p in problems)


def test_retyped_field_is_breaking() -> None:
    new = _changed(lambda s: s["properties"]["count"].update(type="string"))
    problems = breaking_changes(_base(), new)
    assert problems == ["field 'count' type changed: integer -> string"]


def test_changed_format_is_breaking() -> None:
    new = _changed(lambda s: s["properties"]["at"].update(format="date"))
    assert any("'at' type changed" in p for p in breaking_changes(_base(), new))


def test_field_that_became_nullable_is_breaking() -> None:
    new = _changed(lambda s: s["properties"].update(id={"anyOf": [{"type": "string"}, {"type": "null"}]}))
    assert any("'id' type changed" in p for p in breaking_changes(_base(), new))


def test_new_required_field_is_breaking() -> None:
    def edit(s):
        s["properties"]["region"] = {"type": "string"}
        s["required"].append("region")

    assert breaking_changes(_base(), _changed(edit)) == ["new required field 'region'"]


def test_field_that_became_required_is_breaking() -> None:
    new = _changed(lambda s: s["required"].append("note"))
    assert breaking_changes(_base(), new) == ["field 'note' became required"]


def test_lost_enum_value_is_breaking() -> None:
    new = _changed(lambda s: s["properties"]["channel"]["enum"].remove("window"))
    problems = breaking_changes(_base(), new)
    assert len(problems) == 1 and "'channel' lost" in problems[0] and '"window"' in problems[0]


def test_changed_literal_const_is_breaking() -> None:
    new = _changed(lambda s: s["properties"]["kind"].update(const="b"))
    problems = breaking_changes(_base(), new)
    assert len(problems) == 1 and "'kind' lost" in problems[0]


def test_nested_model_changes_are_followed() -> None:
    removed = _changed(lambda s: s["$defs"]["Address"]["properties"].pop("zip"))
    assert any("'address.zip' removed" in p for p in breaking_changes(_base(), removed))
    required = _changed(lambda s: s["$defs"]["Address"]["required"].append("zip"))
    assert breaking_changes(_base(), required) == ["field 'address.zip' became required"]
    optional = _changed(lambda s: s["$defs"]["Address"]["properties"].update(street={"type": "string"}))
    assert breaking_changes(_base(), optional) == []


def test_array_item_type_change_is_breaking() -> None:
    new = _changed(lambda s: s["properties"]["tags"]["items"].update(type="integer"))
    assert any("'tags[]' type changed" in p for p in breaking_changes(_base(), new))


def test_changed_cloudevents_type_is_breaking() -> None:
    new = _changed(lambda s: s.update({"x-cloudevents-type": "cn.example.thing-happened.v2"}))
    assert any("CloudEvents type changed" in p for p in breaking_changes(_base(), new))


def test_real_model_change_is_caught() -> None:
    """End to end on the real event: dropping a Literal value from its snapshot's model is breaking."""
    spec = next(t for t in TOPICS if t.event is ApplicationSubmittedV1)
    current = snapshot(spec)
    narrowed = copy.deepcopy(current)
    narrowed["properties"]["channel"]["enum"].remove("wechat")
    assert breaking_changes(current, narrowed) == ["field 'channel' lost enum/Literal value(s): \"wechat\""]
    assert breaking_changes(narrowed, current) == []
