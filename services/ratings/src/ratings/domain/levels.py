"""Satisfaction levels (GB/T 39734 style), channels and their indicators."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from ratings.domain.errors import DomainError


class Level(StrEnum):
    VERY_SATISFIED = "very_satisfied"  # 非常满意
    SATISFIED = "satisfied"  # 满意
    BASICALLY_SATISFIED = "basically_satisfied"  # 基本满意
    DISSATISFIED = "dissatisfied"  # 不满意
    VERY_DISSATISFIED = "very_dissatisfied"  # 非常不满意

    @property
    def bad(self) -> bool:
        """不满意 and 非常不满意 are bad ratings (差评)."""
        return self in BAD

    @property
    def label(self) -> str:
        return LABELS[self]


BAD = frozenset({Level.DISSATISFIED, Level.VERY_DISSATISFIED})
LABELS = {Level.VERY_SATISFIED: "非常满意", Level.SATISFIED: "满意", Level.BASICALLY_SATISFIED: "基本满意",
          Level.DISSATISFIED: "不满意", Level.VERY_DISSATISFIED: "非常不满意"}

RatingChannel = Literal["web", "app", "mini_program", "window_device", "paper"]
ONLINE_CHANNELS = frozenset({"web", "app", "mini_program"})
ONLINE_INDICATORS = frozenset({"overall", "efficiency", "guide_accuracy", "convenience", "ease_of_use"})
OFFLINE_INDICATORS = frozenset({"overall", "efficiency", "service_level", "attitude"})


def check_indicators(channel: str, indicators: dict[str, int]) -> dict[str, int]:
    """Online channels score overall, efficiency, accuracy of the guide, convenience and ease of
    use; the window device and cards score overall, efficiency, service level and attitude; 1-5."""
    allowed = ONLINE_INDICATORS if channel in ONLINE_CHANNELS else OFFLINE_INDICATORS
    for name, score in indicators.items():
        if name not in allowed:
            raise DomainError(f"indicator {name!r} is not scored on channel {channel} (allowed: "
                              f"{', '.join(sorted(allowed))})", field=f"indicators.{name}")
        if not 1 <= score <= 5:
            raise DomainError(f"indicator {name!r} must score 1 to 5", field=f"indicators.{name}")
    return dict(indicators)
