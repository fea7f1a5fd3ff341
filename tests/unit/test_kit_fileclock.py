"""The kit's file clock (a test moves a service process's time): the file's instant, else the system clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from servicekit.fileclock import FileClock


def test_the_file_moves_the_clock_and_its_absence_is_the_system_clock(tmp_path):
    path = tmp_path / "clock"
    clock = FileClock(path)
    before = datetime.now(UTC)
    assert before - timedelta(seconds=5) <= clock.now() <= datetime.now(UTC) + timedelta(seconds=5)
    at = datetime(2026, 11, 5, 8, 30, tzinfo=UTC)
    FileClock.set(path, at)
    assert clock.now() == at and clock.now().tzinfo is not None
    path.write_text("")
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=5)


def test_a_naive_instant_is_refused(tmp_path):
    path = tmp_path / "clock"
    path.write_text("2026-11-05T08:30:00")
    with pytest.raises(ValueError, match="naive"):
        FileClock(path).now()
