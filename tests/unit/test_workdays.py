"""Working-day calendar: library schedule, local overrides and the deadline rule."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servicekit.clock import CN_TZ
from servicekit.workdays import WorkdayCalendar

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cal(tmp_path_factory: pytest.TempPathFactory) -> WorkdayCalendar:
    # An empty override directory: the library alone (independent of config/calendar).
    return WorkdayCalendar(tmp_path_factory.mktemp("no-overrides"))


def local(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=CN_TZ)


def end_of(y: int, m: int, d: int) -> datetime:
    """24:00 local of the given date, as UTC."""
    return datetime.combine(date(y, m, d) + timedelta(days=1), time(0), tzinfo=CN_TZ).astimezone(UTC)


# --- the library's schedule ---------------------------------------------------------


def test_national_day_2025_matches_state_council_notice(cal: WorkdayCalendar) -> None:
    for day in range(1, 9):
        assert not cal.is_workday(date(2025, 10, day)), f"2025-10-{day:02d} should be off"
    assert cal.is_workday(date(2025, 9, 28))  # Sunday, adjusted working day
    assert cal.is_workday(date(2025, 10, 11))  # Saturday, adjusted working day
    assert cal.is_workday(date(2025, 10, 9))
    assert not cal.is_workday(date(2025, 10, 12))  # ordinary Sunday


def test_plain_weekend_and_weekday(cal: WorkdayCalendar) -> None:
    assert cal.is_workday(date(2025, 3, 14))  # Friday
    assert not cal.is_workday(date(2025, 3, 15))  # Saturday
    assert not cal.is_workday(date(2025, 3, 16))  # Sunday


def test_is_workday_uses_beijing_date_of_a_datetime(cal: WorkdayCalendar) -> None:
    # Friday 2025-03-14 17:00 UTC is Saturday 01:00 in Beijing.
    assert not cal.is_workday(datetime(2025, 3, 14, 17, 0, tzinfo=UTC))
    assert cal.is_workday(datetime(2025, 3, 14, 15, 59, tzinfo=UTC))


def test_next_workday_is_strictly_after(cal: WorkdayCalendar) -> None:
    assert cal.next_workday(date(2025, 3, 13)) == date(2025, 3, 14)
    assert cal.next_workday(date(2025, 3, 14)) == date(2025, 3, 17)
    assert cal.next_workday(date(2025, 9, 30)) == date(2025, 10, 9)


# --- deadlines -----------------------------------------------------------------------


def test_deadline_across_a_weekend(cal: WorkdayCalendar) -> None:
    due = cal.add_workdays(local(2025, 3, 14, 15, 0), 1)  # Friday afternoon
    assert due == end_of(2025, 3, 17)  # end of Monday
    assert due == datetime(2025, 3, 17, 16, 0, tzinfo=UTC)
    assert due.tzinfo == UTC
    assert cal.add_workdays(local(2025, 3, 14, 8, 0), 3) == end_of(2025, 3, 19)


def test_acceptance_day_never_counts_whatever_the_time(cal: WorkdayCalendar) -> None:
    # Monday 00:01 and Monday 23:59 give the same deadline: end of Tuesday.
    assert cal.add_workdays(local(2025, 3, 17, 0, 1), 1) == end_of(2025, 3, 18)
    assert cal.add_workdays(local(2025, 3, 17, 23, 59), 1) == end_of(2025, 3, 18)


def test_deadline_across_national_day_2025(cal: WorkdayCalendar) -> None:
    start = local(2025, 9, 30, 10, 0)  # Tuesday before the holiday
    assert cal.add_workdays(start, 1) == end_of(2025, 10, 9)
    assert cal.add_workdays(start, 2) == end_of(2025, 10, 10)
    assert cal.add_workdays(start, 3) == end_of(2025, 10, 11)  # the working Saturday counts
    assert cal.add_workdays(start, 4) == end_of(2025, 10, 13)


def test_adjusted_working_sunday_counts_as_a_workday(cal: WorkdayCalendar) -> None:
    # Accepted Friday 2025-09-26: day 1 is the working Sunday 2025-09-28, not Monday.
    assert cal.add_workdays(local(2025, 9, 26, 16, 0), 1) == end_of(2025, 9, 28)


def test_deadline_across_spring_festival_2026(cal: WorkdayCalendar) -> None:
    for day in range(15, 24):
        assert not cal.is_workday(date(2026, 2, day)), f"2026-02-{day} should be off"
    assert cal.is_workday(date(2026, 2, 14))  # working Saturday before
    assert cal.is_workday(date(2026, 2, 28))  # working Saturday after
    start = local(2026, 2, 13, 11, 0)  # Friday
    assert cal.add_workdays(start, 1) == end_of(2026, 2, 14)
    assert cal.add_workdays(start, 2) == end_of(2026, 2, 24)
    # Five working days from 2026-02-24 (Tue): 25, 26, 27, 28 (Sat, working), 3-02.
    assert cal.add_workdays(local(2026, 2, 24, 9, 0), 5) == end_of(2026, 3, 2)


def test_acceptance_on_a_holiday(cal: WorkdayCalendar) -> None:
    # Accepted on National Day itself: the first working day after it is day 1.
    assert cal.add_workdays(local(2025, 10, 3, 10, 0), 1) == end_of(2025, 10, 9)
    # Accepted on an ordinary Saturday.
    assert cal.add_workdays(local(2025, 3, 15, 10, 0), 1) == end_of(2025, 3, 17)


def test_acceptance_date_is_the_beijing_date(cal: WorkdayCalendar) -> None:
    # Thursday 2025-03-13 23:30 UTC is already Friday 07:30 in Beijing: Friday is the
    # acceptance date, so day 1 is Monday; 15:30 UTC is still Thursday there.
    assert cal.add_workdays(datetime(2025, 3, 13, 23, 30, tzinfo=UTC), 1) == end_of(2025, 3, 17)
    assert cal.add_workdays(datetime(2025, 3, 13, 15, 30, tzinfo=UTC), 1) == end_of(2025, 3, 14)


def test_bad_inputs_are_rejected(cal: WorkdayCalendar) -> None:
    with pytest.raises(ValueError):
        cal.add_workdays(datetime(2025, 3, 14, 15, 0), 1)  # naive
    with pytest.raises(ValueError):
        cal.add_workdays(local(2025, 3, 14), 0)


def test_workdays_left(cal: WorkdayCalendar) -> None:
    start = local(2025, 9, 30, 10, 0)
    due = cal.add_workdays(start, 3)  # end of Saturday 2025-10-11
    assert cal.workdays_left(start, due) == 3
    assert cal.workdays_left(local(2025, 10, 5, 12, 0), due) == 3  # holidays do not count
    assert cal.workdays_left(local(2025, 10, 9, 12, 0), due) == 2
    assert cal.workdays_left(local(2025, 10, 11, 23, 0), due) == 0  # due today
    assert cal.workdays_left(local(2025, 10, 20, 9, 0), due) == 0  # past


# --- override files ------------------------------------------------------------------


def test_override_file_is_authoritative_for_its_year(tmp_path: Path, cal: WorkdayCalendar) -> None:
    # The library only estimates 2030: it has 2030-01-01 off and no working weekends.
    assert not cal.is_workday(date(2030, 1, 1))
    assert not cal.is_workday(date(2030, 1, 5))
    assert not cal.has_schedule(2030)

    (tmp_path / "CN-2030.toml").write_text(
        'source = "test"\nholidays = ["2030-01-02", 2030-01-03]\nworkdays = ["2030-01-05"]\n',
        encoding="utf-8",
    )
    over = WorkdayCalendar(tmp_path)
    assert over.has_schedule(2030)
    assert not over.is_workday(date(2030, 1, 2))  # listed holiday (Wednesday)
    assert not over.is_workday(date(2030, 1, 3))  # listed as a bare TOML date
    assert over.is_workday(date(2030, 1, 5))  # listed working Saturday
    assert over.is_workday(date(2030, 1, 1))  # not listed: the library's holiday no longer applies
    assert not over.is_workday(date(2030, 1, 6))  # ordinary Sunday
    # Accepted Friday 2030-01-04: day 1 is the working Saturday.
    assert over.add_workdays(local(2030, 1, 4, 10, 0), 1) == end_of(2030, 1, 5)
    # Accepted Tuesday 2030-01-01: Wed/Thu off, Fri is day 1.
    assert over.add_workdays(local(2030, 1, 1, 10, 0), 1) == end_of(2030, 1, 4)
    # Other years still come from the library.
    assert not over.is_workday(date(2025, 10, 1))


def test_knows_a_year_from_the_library_or_an_override_file(tmp_path: Path, cal: WorkdayCalendar) -> None:
    assert cal.knows(2026)
    assert not cal.knows(2027)
    (tmp_path / "CN-2027.toml").write_text('holidays = ["2027-01-01"]\n', encoding="utf-8")
    assert WorkdayCalendar(tmp_path).knows(2027)


def test_a_deadline_counted_into_an_unknown_year_is_provisional(tmp_path: Path, cal: WorkdayCalendar) -> None:
    # Accepted Thursday 2026-12-31: day 1 lies in 2027, whose schedule is not known.
    due = cal.deadline(local(2026, 12, 31, 10, 0), 1)
    assert due.provisional and due.unknown_years == (2027,)
    assert due.at == cal.add_workdays(local(2026, 12, 31, 10, 0), 1) == end_of(2027, 1, 4)  # estimate: 01-01 off
    # Within a known year: not provisional.
    inside = cal.deadline(local(2026, 12, 29, 10, 0), 1)
    assert not inside.provisional and inside.at == end_of(2026, 12, 30)
    # Once the year's file arrives the same deadline is known (and follows the file).
    (tmp_path / "CN-2027.toml").write_text('holidays = ["2027-01-01", "2027-01-04"]\n', encoding="utf-8")
    known = WorkdayCalendar(tmp_path).deadline(local(2026, 12, 31, 10, 0), 1)
    assert not known.provisional and known.at == end_of(2027, 1, 5)


def test_override_file_for_a_library_year_wins(tmp_path: Path) -> None:
    (tmp_path / "CN-2025.toml").write_text('holidays = ["2025-10-01"]\n', encoding="utf-8")
    over = WorkdayCalendar(tmp_path)
    assert not over.is_workday(date(2025, 10, 1))
    assert over.is_workday(date(2025, 10, 2))  # off in the library, not in the file
    assert not over.is_workday(date(2025, 9, 28))  # library's working Sunday not in the file


def test_cross_year_date_in_an_override_file(tmp_path: Path) -> None:
    (tmp_path / "CN-2030.toml").write_text('workdays = ["2029-12-30"]\n', encoding="utf-8")
    over = WorkdayCalendar(tmp_path)
    assert over.is_workday(date(2029, 12, 30))  # a Sunday, made working by the 2030 notice
    assert not over.is_workday(date(2029, 12, 29))  # the rest of 2029 is untouched
    assert not over.has_schedule(2029)


@pytest.mark.parametrize(
    "body",
    [
        'holidays = ["2030-01-02"]\nworkdays = ["2030-01-02"]\n',  # both
        'holiday = ["2030-01-02"]\n',  # typo in key
        'holidays = ["2030-13-01"]\n',  # not a date
        'holidays = "2030-01-02"\n',  # not a list
        'holidays = ["2035-01-02"]\n',  # far from the file's year
    ],
)
def test_invalid_override_files_are_rejected(tmp_path: Path, body: str) -> None:
    (tmp_path / "CN-2030.toml").write_text(body, encoding="utf-8")
    with pytest.raises(ValueError):
        WorkdayCalendar(tmp_path)


def test_files_with_other_names_are_ignored(tmp_path: Path) -> None:
    (tmp_path / "CN-2030.toml.example").write_text('holidays = ["2030-01-02"]\n', encoding="utf-8")
    over = WorkdayCalendar(tmp_path)
    assert over.is_workday(date(2030, 1, 2))
    assert not over.has_schedule(2030)


def test_repository_template_loads_once_renamed(tmp_path: Path) -> None:
    template = REPO / "config" / "calendar" / "CN-2027.toml.example"
    shutil.copy(template, tmp_path / "CN-2027.toml")
    over = WorkdayCalendar(tmp_path)
    assert over.has_schedule(2027)


def test_default_override_dir_is_the_repository_config() -> None:
    assert WorkdayCalendar().override_dir.resolve() == (REPO / "config" / "calendar").resolve()


def test_from_settings_uses_calendar_override_dir(tmp_path: Path) -> None:
    from servicekit.config import ServiceSettings

    (tmp_path / "CN-2030.toml").write_text('holidays = ["2030-01-02"]\n', encoding="utf-8")
    over = WorkdayCalendar.from_settings(ServiceSettings(calendar_override_dir=str(tmp_path)))
    assert over.override_dir == tmp_path
    assert not over.is_workday(date(2030, 1, 2))


# --- properties -----------------------------------------------------------------------

_PROP_CAL = WorkdayCalendar(Path(__file__).parent / "__no_such_dir__")

starts = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2026, 9, 30), timezones=st.just(UTC))


@settings(max_examples=300, deadline=None)
@given(start=starts, n=st.integers(min_value=1, max_value=60))
def test_add_workdays_properties(start: datetime, n: int) -> None:
    cal = _PROP_CAL
    due = cal.add_workdays(start, n)
    assert due.tzinfo == UTC
    assert due > start
    # Due at 24:00 local of a working day that is after the acceptance date.
    local_due = due.astimezone(CN_TZ)
    assert local_due.time() == time(0)
    due_day = local_due.date() - timedelta(days=1)
    assert cal.is_workday(due_day)
    assert due_day > start.astimezone(CN_TZ).date()
    # Exactly n working days counted, and monotonic in n.
    assert cal.workdays_left(start, due) == n
    assert cal.add_workdays(start, n + 1) > due
