"""Injectable clocks: always timezone-aware UTC, so tests can move time.

Code that needs "now" takes a :class:`Clock` instead of calling ``datetime.now()``:
production wires :class:`SystemClock`, tests wire :class:`FrozenClock` and move it with
``set()`` / ``advance()``. Local (Beijing) time is only for presentation and for the
working-day calendar; use :data:`CN_TZ` to convert.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable
from zoneinfo import ZoneInfo

CN_TZ = ZoneInfo("Asia/Shanghai")


@runtime_checkable
class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


def ensure_utc(dt: datetime) -> datetime:
    """``dt`` converted to UTC; naive datetimes are rejected (their zone is ambiguous)."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"naive datetime {dt!r}: pass a timezone-aware datetime")
    return dt.astimezone(UTC)


class SystemClock:
    """The real wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that only moves when told to (tests)."""

    def __init__(self, start: datetime) -> None:
        self._now = ensure_utc(start)

    def now(self) -> datetime:
        return self._now

    def set(self, dt: datetime) -> datetime:
        self._now = ensure_utc(dt)
        return self._now

    def advance(self, **delta: float) -> datetime:
        """Move forward (or back, with negative values) by ``timedelta(**delta)``."""
        self._now = self._now + timedelta(**delta)
        return self._now

    def __repr__(self) -> str:
        return f"FrozenClock({self._now.isoformat()})"


__all__ = ["CN_TZ", "Clock", "FrozenClock", "SystemClock", "ensure_utc"]
