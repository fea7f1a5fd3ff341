"""Statistics and the red/black list (红黑榜), from tallies the repository aggregates."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ratings.domain.errors import Conflict, DisplayTooShort
from ratings.domain.levels import BAD, Level

MIN_DISPLAY_DAYS = 15


@dataclass
class Tally:
    """Ratings per level of one unit (a window, a staff member, a department, a matter, a month)."""

    counts: dict[str, int] = field(default_factory=lambda: {lv.value: 0 for lv in Level})

    def add(self, level: str, n: int = 1) -> None:
        self.counts[level] = self.counts.get(level, 0) + n

    def merge(self, other: Tally) -> Tally:
        out = Tally(dict(self.counts))
        for k, v in other.counts.items():
            out.add(k, v)
        return out

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def bad(self) -> int:
        return sum(self.counts.get(lv.value, 0) for lv in BAD)

    @property
    def satisfaction_rate(self) -> float:
        """非常满意 + 满意 + 基本满意 over all ratings (1.0 when there are none)."""
        return round((self.total - self.bad) / self.total, 4) if self.total else 1.0


def rate(done: int, total: int) -> float:
    return round(done / total, 4) if total else 1.0


@dataclass(frozen=True)
class RankingRules:
    """From the settings: who is ranked, and how many go on each list."""

    min_ratings: int = 10
    red_size: int = 3
    black_size: int = 3
    red_min_rate: float = 0.95
    black_min_bad: int = 1


@dataclass(frozen=True)
class Ranked:
    kind: str  # window | staff
    id: str
    name: str
    ratings: int
    satisfaction_rate: float
    bad: int


def rank(units: Mapping[tuple[str, str], Tally], names: Mapping[tuple[str, str], str],
         rules: RankingRules) -> tuple[list[Ranked], list[Ranked]]:
    """Windows and staff ranked apart, each list holding up to the configured number of each.
    Red: the best (highest satisfaction rate, then fewest bad, then most ratings) at or above
    ``red_min_rate``; black: the worst with at least ``black_min_bad`` bad ratings. Units with
    fewer than ``min_ratings`` ratings are not ranked; no unit is on both lists."""
    red: list[Ranked] = []
    black: list[Ranked] = []
    for kind in ("window", "staff"):
        ranked = [Ranked(k, uid, names.get((k, uid), uid), t.total, t.satisfaction_rate, t.bad)
                  for (k, uid), t in units.items() if k == kind and t.total >= rules.min_ratings]
        best = sorted(ranked, key=lambda r: (-r.satisfaction_rate, r.bad, -r.ratings, r.id))
        chosen = [r for r in best if r.satisfaction_rate >= rules.red_min_rate][: rules.red_size]
        worst = sorted(ranked, key=lambda r: (r.satisfaction_rate, -r.bad, -r.ratings, r.id))
        red += chosen
        black += [r for r in worst if r.bad >= rules.black_min_bad and r not in chosen][: rules.black_size]
    return red, black


@dataclass(frozen=True)
class Publication:
    """A published list: immutable once written; on display from ``display_from`` to ``display_until``."""

    month: str
    display_from: datetime
    display_until: datetime
    red: list[Ranked]
    black: list[Ranked]
    published_by: str
    published_at: datetime
    chain_head: str

    @classmethod
    def make(cls, *, month: str, final: bool, display_from: datetime, display_days: int, red: list[Ranked],
             black: list[Ranked], by: str, now: datetime, chain_head: str) -> Publication:
        if display_days < MIN_DISPLAY_DAYS:
            raise DisplayTooShort(f"a red/black list is shown for at least {MIN_DISPLAY_DAYS} days, not {display_days}")
        if not final:
            raise Conflict(f"the month {month} is not final: the three oversight bodies have not all signed off",
                           field="month")
        return cls(month, display_from, display_from + timedelta(days=display_days), red, black, by, now, chain_head)

    def on_display(self, now: datetime) -> bool:
        return self.display_from <= now < self.display_until
