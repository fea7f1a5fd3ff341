"""``python -m devstack republish``: its times and its refusals (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from devstack.cli import main
from devstack.republish import parse_time

NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize(("text", "expected"), [
    ("15m", NOW - timedelta(minutes=15)),
    ("2h", NOW - timedelta(hours=2)),
    ("1.5d", NOW - timedelta(days=1.5)),
    ("90s", NOW - timedelta(seconds=90)),
    ("2026-11-27T10:00+08:00", NOW),
    ("2026-11-27T02:00Z", NOW),
])
def test_times_are_iso_8601_with_an_offset_or_a_duration_ago(text: str, expected: datetime) -> None:
    assert parse_time(text, NOW) == expected


@pytest.mark.parametrize(("text", "reason"), [("2026-11-27T10:00", "no UTC offset"), ("yesterday", "neither")])
def test_a_time_without_offset_or_form_is_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_time(text, NOW)


@pytest.mark.parametrize("argv", [
    ["--service", "nope", "--since", "1h"],
    ["--service", "registration", "--since", "2026-11-27T10:00"],
    ["--service", "registration", "--since", "1h", "--topic", "registration.no-such.v1"],
    ["--service", "registration", "--since", "1h", "--until", "2h"],
])
def test_the_command_refuses_before_connecting(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["republish", *argv, "--mongodb-uri", "mongodb://127.0.0.1:1", "--bootstrap", "127.0.0.1:1"]) == 2
    assert capsys.readouterr().err.startswith("error: ")
