"""Personal data on the bus: public topics carry no full phone or ID number; private topics
are tagged in AsyncAPI and readable only by their consumers (deploy/kafka/acls.sh)."""

from __future__ import annotations

import json
from pathlib import Path

from contracts import acls
from contracts.topics import PERSONAL_DATA_FIELDS, SERVICES, TOPICS, dead_letter_topic

ROOT = Path(__file__).resolve().parents[2]


def test_public_topics_carry_no_full_personal_data():
    for spec in TOPICS:
        if not spec.private:
            assert not PERSONAL_DATA_FIELDS & set(spec.event.model_fields), spec.name
    by_name = {t.name: t for t in TOPICS}
    assert by_name["registration.application-submitted.v1"].private  # the applicant's phone in full


def test_asyncapi_tags_every_channel_public_or_private():
    doc = json.loads((ROOT / "docs/asyncapi.json").read_text())
    channels = {c["address"]: c for c in doc["channels"].values()}
    for spec in TOPICS:
        expected = "private" if spec.private else "public"
        assert channels[spec.name]["x-visibility"] == expected
        assert [t["name"] for t in channels[spec.name]["tags"]] == [expected]
    for service in SERVICES:
        assert channels[dead_letter_topic(service)]["x-visibility"] == "private"


def test_private_topics_are_read_only_by_their_consumers_and_the_script_is_current():
    grants = acls.grants()
    for spec in TOPICS:
        readers = {p for p, op, t in grants if t == spec.name and op == "Read"}
        writers = {p for p, op, t in grants if t == spec.name and op == "Write"}
        assert writers == {spec.producer}
        if spec.private:
            assert readers <= {*spec.consumers, "departments"}, spec.name
    assert {p for p, op, t in grants if t == "registration.step-requested.v1" and op == "Read"} == {
        "notifications", "departments"}
    assert (ROOT / "deploy/kafka/acls.sh").read_text() == acls.script(), "run make asyncapi"
