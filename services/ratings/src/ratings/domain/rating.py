"""One rating per case (一事一评): a completed case opens for rating once; a second rating on any
channel is refused unless a review annulled the first."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ratings.domain import facts
from ratings.domain.errors import AlreadyRated, Conflict, Forbidden, TokenRefused
from ratings.domain.levels import Level, check_indicators
from servicekit.aggregate import Aggregate
from servicekit.clock import CN_TZ


def day_of(at: datetime) -> str:
    """The day a rating counts in, in Beijing time (the hall screen's today)."""
    return at.astimezone(CN_TZ).strftime("%Y-%m-%d")


def month_of(at: datetime) -> str:
    """The month a rating counts in, in Beijing time (the hall's month)."""
    return at.astimezone(CN_TZ).strftime("%Y-%m")


@dataclass(frozen=True)
class Rating:
    level: Level
    channel: str
    indicators: dict[str, int]
    comment: str | None
    rated_at: datetime
    by: str  # who rated: the applicant, the token, or the device's staff member

    @property
    def bad(self) -> bool:
        return self.level.bad


@dataclass(frozen=True)
class Annulled:
    rating: Rating
    reason: str
    reviewer_id: str
    at: datetime


@dataclass(kw_only=True)
class RateableCase(Aggregate):
    """A completed case that can be rated: who, where, and its (one) rating."""

    case_number: str
    source: str  # registration | approvals
    applicant_id: str
    matter: str
    completed_at: datetime
    window_id: str | None = None
    staff_id: str | None = None
    department: str | None = None
    correlation_id: str = ""
    token_id: str = ""  # the current token's id (jti); "" once used
    token_expires_at: datetime | None = None
    rating: Rating | None = None
    annulled: list[Annulled] = field(default_factory=list)

    @classmethod
    def open(cls, *, case_number: str, source: str, applicant_id: str, matter: str, completed_at: datetime,
             window_id: str | None, staff_id: str | None, department: str | None, correlation_id: str,
             token_id: str, token_expires_at: datetime, rating_url: str) -> RateableCase:
        case = cls(case_number=case_number, source=source, applicant_id=applicant_id, matter=matter,
                   completed_at=completed_at, window_id=window_id, staff_id=staff_id, department=department,
                   correlation_id=correlation_id or case_number, token_id=token_id,
                   token_expires_at=token_expires_at)
        case.record(facts.RatingInvited(applicant_id=applicant_id, matter=matter, rating_url=rating_url,
                                        expires_at=token_expires_at, window_id=window_id))
        return case

    @property
    def month(self) -> str | None:
        return month_of(self.rating.rated_at) if self.rating else None

    def check_token(self, token_id: str, now: datetime) -> None:
        """The token must be this case's current one, unused and unexpired."""
        if self.rating is not None or not self.token_id:
            raise TokenRefused("this rating link was used already")
        if token_id != self.token_id:
            raise TokenRefused("this rating link was replaced by a newer one")
        if self.token_expires_at is not None and now >= self.token_expires_at:
            raise TokenRefused("this rating link has expired")

    def rate(self, *, level: Level, channel: str, indicators: dict[str, int], comment: str | None, by: str,
             now: datetime) -> Rating:
        if self.rating is not None:
            raise AlreadyRated(f"case {self.case_number} was rated already ({self.rating.level.label})")
        rating = Rating(level=level, channel=channel, indicators=check_indicators(channel, indicators),
                        comment=comment, rated_at=now, by=by)
        self.rating, self.token_id = rating, ""
        self.record(facts.RatingRecorded(level=level.value, bad=level.bad, channel=channel,
                                         indicators=rating.indicators, window_id=self.window_id,
                                         staff_id=self.staff_id, department=self.department, matter=self.matter,
                                         rated_at=now))
        return rating

    def rate_as_applicant(self, applicant_id: str, **kw: object) -> Rating:
        if applicant_id != self.applicant_id:
            raise Forbidden("only the case's applicant rates it")
        return self.rate(by=applicant_id, **kw)  # type: ignore[arg-type]

    def annul(self, *, reason: str, reviewer_id: str, now: datetime, token_id: str, token_expires_at: datetime,
              rating_url: str, entry_id: str | None) -> None:
        """A review found the rating mistaken or malicious: it stops counting, and the case may
        be rated again (a new link is sent)."""
        if self.rating is None:
            raise Conflict(f"case {self.case_number} has no rating to annul")
        self.annulled.append(Annulled(self.rating, reason, reviewer_id, now))
        self.rating, self.token_id, self.token_expires_at = None, token_id, token_expires_at
        self.record(facts.RatingAnnulled(reason=reason, reviewer_id=reviewer_id, entry_id=entry_id))
        self.record(facts.RatingInvited(applicant_id=self.applicant_id, matter=self.matter, rating_url=rating_url,
                                        expires_at=token_expires_at, window_id=self.window_id))
