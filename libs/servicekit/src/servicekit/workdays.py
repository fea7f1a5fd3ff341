"""Working-day calendar for the People's Republic of China (Asia/Shanghai local dates).

A date is a working day unless it is a weekend or a public holiday, except that adjusted
working weekends (调休) are working days. Sources, in order of precedence:

1. Local override files ``CN-<year>.toml`` in the override directory (default
   ``config/calendar/`` at the repository root; setting ``calendar_override_dir``). When a
   file exists for a year it is authoritative for that whole year: listed ``holidays`` are
   off, listed ``workdays`` are on, every other day is a working day iff it is Monday to
   Friday. A file may also list dates of an adjacent year (a cross-year 调休 announced with
   next year's schedule); those dates are overridden individually. See
   ``config/calendar/README.md``.
2. The ``holidays`` library's China calendar (statutory holidays, substituted days off and
   adjusted working weekends from the State Council notices it carries).
3. For a year the library has no notice for (the next year's schedule is published each
   November), the library still estimates the statutory holidays, but without any
   adjusted working weekend. A warning is logged once per such year: add an override file.

Deadline rule (:meth:`WorkdayCalendar.add_workdays`): a time limit of N working days
ends at 24:00 (the end) local time of the N-th working day after the acceptance date;
the acceptance date itself never counts, whether or not it is a working day and whatever
the time of day. The returned instant is that 24:00, i.e. 00:00 local of the following
calendar day, in UTC; the case is overdue when ``now >= due``.
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import holidays

from servicekit.clock import CN_TZ, ensure_utc

log = logging.getLogger(__name__)

_FILE_RE = re.compile(r"CN-(\d{4})\.toml")
_ALLOWED_KEYS = {"holidays", "workdays", "source", "note"}
_MAX_GAP_DAYS = 400  # no real calendar has a longer run of days off


def default_override_dir() -> Path:
    """``config/calendar`` of the repository this code (or the working directory) lives in."""
    for base in (Path(__file__).resolve().parent, Path.cwd().resolve()):
        for parent in (base, *base.parents):
            candidate = parent / "config" / "calendar"
            if candidate.is_dir():
                return candidate
    return Path.cwd() / "config" / "calendar"


def _local_date(d: date | datetime) -> date:
    if isinstance(d, datetime):
        return ensure_utc(d).astimezone(CN_TZ).date()
    return d


def _end_of_local_day(d: date) -> datetime:
    """24:00 local of ``d`` (= 00:00 local of the next day), as UTC."""
    return ensure_utc(datetime.combine(d + timedelta(days=1), time(0), tzinfo=CN_TZ))


def _deadline_day(due: datetime) -> date:
    """The local date a deadline belongs to: a deadline at 00:00 local is the end of the day before."""
    local = ensure_utc(due).astimezone(CN_TZ)
    return local.date() - timedelta(days=1) if local.time() == time(0) else local.date()


def _parse_dates(path: Path, key: str, values: Any) -> list[date]:
    if not isinstance(values, list):
        raise ValueError(f"{path}: '{key}' must be a list of dates")
    out: list[date] = []
    for v in values:
        if isinstance(v, date) and not isinstance(v, datetime):
            out.append(v)
        elif isinstance(v, str):
            try:
                out.append(date.fromisoformat(v))
            except ValueError as exc:
                raise ValueError(f"{path}: '{key}' has an invalid date {v!r} (use YYYY-MM-DD)") from exc
        else:
            raise ValueError(f"{path}: '{key}' has a non-date entry {v!r}")
    return out


class Deadline(NamedTuple):
    """A time limit's end (UTC) and the years it was counted through without a known schedule."""

    at: datetime
    unknown_years: tuple[int, ...] = ()

    @property
    def provisional(self) -> bool:
        """Counted through a year whose adjusted working days are not known: an estimate."""
        return bool(self.unknown_years)


class WorkdayCalendar:
    """China working days. Inputs may be local dates or timezone-aware datetimes; results are UTC."""

    def __init__(self, override_dir: str | os.PathLike[str] | None = None) -> None:
        self.override_dir = Path(override_dir) if override_dir else default_override_dir()
        self._cn = holidays.China()
        # Years for which the library carries a State Council notice (substituted days).
        notices: Iterable[int] = getattr(self._cn, "special_public_holidays", {}) or {}
        self.library_last_year: int = max(notices, default=0)
        self._override_years: set[int] = set()
        self._overrides: dict[date, bool] = {}
        self._warned: set[int] = set()
        self._load_overrides()

    @classmethod
    def from_settings(cls, settings: Any) -> WorkdayCalendar:
        """Build from a settings object with a ``calendar_override_dir`` field ('' = default)."""
        return cls(getattr(settings, "calendar_override_dir", "") or None)

    def _load_overrides(self) -> None:
        if not self.override_dir.is_dir():
            log.info("calendar override directory %s not found; using the library only", self.override_dir)
            return
        for path in sorted(self.override_dir.iterdir()):
            m = _FILE_RE.fullmatch(path.name)
            if not m or not path.is_file():
                continue
            year = int(m.group(1))
            with path.open("rb") as f:
                data = tomllib.load(f)
            unknown = set(data) - _ALLOWED_KEYS
            if unknown:
                raise ValueError(f"{path}: unknown keys {sorted(unknown)} (allowed: {sorted(_ALLOWED_KEYS)})")
            offs = _parse_dates(path, "holidays", data.get("holidays", []))
            ons = _parse_dates(path, "workdays", data.get("workdays", []))
            both = set(offs) & set(ons)
            if both:
                raise ValueError(f"{path}: dates listed as both holiday and workday: {sorted(both)}")
            for d, working in [*((d, False) for d in offs), *((d, True) for d in ons)]:
                if d.year not in (year - 1, year, year + 1):
                    raise ValueError(f"{path}: {d} is not in or next to {year}")
                previous = self._overrides.get(d)
                if previous is not None and previous != working:
                    raise ValueError(f"{path}: {d} contradicts another override file")
                self._overrides[d] = working
            self._override_years.add(year)
            log.info(
                "calendar override for %s loaded from %s (%d holidays, %d workdays)", year, path, len(offs), len(ons)
            )

    def has_schedule(self, year: int) -> bool:
        """True if an official schedule (override file or library notice) is known for ``year``."""
        return year in self._override_years or year <= self.library_last_year

    def knows(self, year: int) -> bool:
        """Are ``year``'s holidays and adjusted working days known (library notice or override file)?
        Counting through a year it does not know gives a provisional :class:`Deadline`."""
        return self.has_schedule(year)

    def is_workday(self, d: date | datetime) -> bool:
        """Is the local date ``d`` (or the local date of an aware datetime) a working day?"""
        d = _local_date(d)
        override = self._overrides.get(d)
        if override is not None:
            return override
        if d.year in self._override_years:
            return d.weekday() < 5
        if d.year > self.library_last_year and d.year not in self._warned:
            self._warned.add(d.year)
            log.warning(
                "no official holiday schedule for %s (library knows up to %s): using estimated "
                "holidays without adjusted working weekends; add %s",
                d.year,
                self.library_last_year,
                self.override_dir / f"CN-{d.year}.toml",
            )
        return bool(self._cn.is_working_day(d))

    def next_workday(self, d: date | datetime) -> date:
        """The first working day strictly after the local date ``d``."""
        d = _local_date(d)
        for _ in range(_MAX_GAP_DAYS):
            d += timedelta(days=1)
            if self.is_workday(d):
                return d
        raise ValueError(f"no working day within {_MAX_GAP_DAYS} days after {d}: check the calendar")

    def add_workdays(self, start: datetime, n: int) -> datetime:
        """Deadline of a time limit of ``n`` (>= 1) working days for a case accepted at ``start``.

        Due at 24:00 (end) local time of the ``n``-th working day after the acceptance
        date; the acceptance date itself never counts. Example: accepted Friday 15:00 with
        no holidays around, 1 working day -> due Monday 24:00 (Tuesday 00:00 local).
        Returned as an aware UTC datetime (exclusive end: overdue when ``now >= due``).
        """
        return self.deadline(start, n).at

    def deadline(self, start: datetime, n: int) -> Deadline:
        """:meth:`add_workdays`, also naming the years counted through whose schedule is not
        known (every year from the day after acceptance to the deadline's day): the
        deadline is then provisional, and moves once the year's override file arrives."""
        if n < 1:
            raise ValueError(f"a time limit needs at least 1 working day, got {n}")
        first = d = _local_date(ensure_utc(start))
        for _ in range(n):
            d = self.next_workday(d)
        crossed = range((first + timedelta(days=1)).year, d.year + 1)
        return Deadline(_end_of_local_day(d), tuple(y for y in crossed if not self.knows(y)))

    def workdays_left(self, now: datetime, due: datetime) -> int:
        """Working days after ``now``'s local date up to and including the deadline's day.

        The deadline's day is the local date whose end ``due`` marks (a deadline at 00:00
        local belongs to the day before). 0 when due today or already past. For any
        ``start``, ``workdays_left(start, add_workdays(start, n)) == n``.
        """
        today = _local_date(ensure_utc(now))
        last = _deadline_day(due)
        count, d = 0, today
        while d < last:
            d += timedelta(days=1)
            count += self.is_workday(d)
        return count


__all__ = ["Deadline", "WorkdayCalendar", "default_override_dir"]
