"""Events produced by the ratings service (好差评). Kafka key: the rated case's number for a
case's rating and its ledger entry; the ledger entry's or consultation's id for those that
belong to no case; the month (``2026-11``) for card days, box openings and lists.

Public except the invitation: it carries the rating link, a single-use capability to rate
the case, so only notifications reads it."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from contracts.envelope import Event

Level = Literal["very_satisfied", "satisfied", "basically_satisfied", "dissatisfied", "very_dissatisfied"]
"""GB/T 39734 levels: 非常满意, 满意, 基本满意, 不满意, 非常不满意 (the last two are bad ratings, 差评)."""
RatingChannel = Literal["web", "app", "mini_program", "window_device", "paper"]
LedgerKind = Literal["bad_rating", "complaint"]
RequestKind = Literal["consultation", "suggestion", "complaint"]


class RatingInvitedV1(Event):
    """A completed case can be rated (一事一评): the applicant gets the link (private: the link is the token)."""

    ce_type = "cn.gov.onewindow.ratings.rating-invited.v1"

    applicant_id: str = Field(description="Account id of the applicant invited to rate.")
    matter: str = Field(description="What was done (the matter, 事项), e.g. `establishment` or a stage.")
    rating_url: str = Field(description="Link that rates the case once, without logging in (holds the token).")
    expires_at: datetime = Field(description="When the link stops working (UTC).")
    window_id: str | None = Field(default=None, description="The window that accepted the case, if known.")


class RatingRecordedV1(Event):
    """A case was rated (one rating per case); the provincial platform may subscribe."""

    ce_type = "cn.gov.onewindow.ratings.rating-recorded.v1"

    level: Level = Field(description="The satisfaction level.")
    bad: bool = Field(description="不满意 or 非常不满意 (a bad rating, 差评).")
    channel: RatingChannel = Field(description="How it was rated.")
    indicators: dict[str, int] = Field(default_factory=dict, description="Indicator → score 1-5 (GB/T 39734 style).")
    window_id: str | None = Field(default=None, description="The window that served the case.")
    staff_id: str | None = Field(default=None, description="The window staff member who served the case.")
    department: str | None = Field(default=None, description="The department concerned.")
    matter: str = Field(description="The matter (事项).")
    rated_at: datetime = Field(description="When it was rated (UTC).")


class RatingAnnulledV1(Event):
    """A review (申诉复核) found a rating mistaken or malicious and annulled it; the case may be rated again."""

    ce_type = "cn.gov.onewindow.ratings.rating-annulled.v1"

    reason: str = Field(description="Why it was annulled.")
    reviewer_id: str = Field(description="Who annulled it.")
    entry_id: str | None = Field(default=None, description="The ledger entry reviewed, if any.")


class LedgerEntryOpenedV1(Event):
    """A bad rating or a complaint opened a ledger entry (差评台账) with an owner, who must call the person back."""

    ce_type = "cn.gov.onewindow.ratings.ledger-entry-opened.v1"

    entry_id: str = Field(description="The ledger entry.")
    kind: LedgerKind = Field(description="A bad rating or a complaint.")
    owner_id: str = Field(description="Who calls back and answers.")
    applicant_id: str | None = Field(default=None, description="The person to call back.")
    department: str | None = Field(default=None, description="The department concerned.")
    window_id: str | None = Field(default=None, description="The window concerned.")
    callback_due_at: datetime = Field(description="The callback (电话回访) is due by then (UTC).")


class CallbackRecordedV1(Event):
    """The owner called the person back (电话回访) and recorded the outcome."""

    ce_type = "cn.gov.onewindow.ratings.callback-recorded.v1"

    entry_id: str = Field(description="The ledger entry.")
    owner_id: str = Field(description="Who called.")
    reasonable: bool = Field(description="Facts clear and request reasonable: rectify and give feedback.")
    feedback_due_at: datetime | None = Field(default=None, description="Feedback due within 3 working days (UTC).")


class RectificationFeedbackGivenV1(Event):
    """The owner rectified (立行立改) and told the person how (反馈)."""

    ce_type = "cn.gov.onewindow.ratings.rectification-feedback-given.v1"

    entry_id: str = Field(description="The ledger entry.")
    applicant_id: str | None = Field(default=None, description="The person told.")
    feedback: str = Field(description="What was done (sent to the person).")
    within_time_limit: bool = Field(description="Given within the 3 working days.")


class ExplanationGivenV1(Event):
    """The request has no legal basis: the owner explained why (解释说明), sent to the person."""

    ce_type = "cn.gov.onewindow.ratings.explanation-given.v1"

    entry_id: str = Field(description="The ledger entry.")
    applicant_id: str | None = Field(default=None, description="The person told.")
    explanation: str = Field(description="The explanation (sent to the person).")


class RectificationDueWarningV1(Event):
    """A rectification's feedback is due soon: the owner and the supervisors are warned."""

    ce_type = "cn.gov.onewindow.ratings.rectification-due-warning.v1"

    entry_id: str = Field(description="The ledger entry.")
    owner_id: str = Field(description="Who must give the feedback.")
    due_at: datetime = Field(description="When it is due (UTC).")


class RectificationOverdueV1(Event):
    """A rectification's feedback was not given within 3 working days."""

    ce_type = "cn.gov.onewindow.ratings.rectification-overdue.v1"

    entry_id: str = Field(description="The ledger entry.")
    owner_id: str = Field(description="Who must give the feedback.")
    department: str | None = Field(default=None, description="The department concerned.")
    due_at: datetime = Field(description="When it was due (UTC).")


class CardDayMismatchV1(Event):
    """Alarm: a window's paper cards of the day do not add up (issued ≠ used + returned + void)."""

    ce_type = "cn.gov.onewindow.ratings.card-day-mismatch.v1"

    day: str = Field(description="The working day (YYYY-MM-DD, Beijing).")
    window_id: str = Field(description="The window.")
    issued: int = Field(description="Cards issued that day.")
    used: int = Field(description="Cards dropped in the box.")
    returned: int = Field(description="Cards returned unused.")
    void: int = Field(description="Cards voided.")
    missing: list[str] = Field(description="Serials issued and not accounted for.")


class MonthFinalisedV1(Event):
    """A month's box opening is signed off by the three oversight bodies: its result is final."""

    ce_type = "cn.gov.onewindow.ratings.month-finalised.v1"

    month: str = Field(description="YYYY-MM.")
    online: int = Field(description="Ratings online and at the window device.")
    paper: int = Field(description="Paper votes counted.")
    chain_head: str = Field(description="Hash of the tamper-evident log's last record at sign-off.")
    signed_by: list[str] = Field(description="The three oversight bodies' accounts.")


class ListedUnit(BaseModel):
    kind: Literal["window", "staff"] = Field(description="A window or a staff member.")
    id: str = Field(description="Its id.")
    name: str = Field(description="What the list shows.")
    ratings: int = Field(description="Ratings counted.")
    satisfaction_rate: float = Field(description="Share of satisfied ratings (满意度), 0-1.")
    bad: int = Field(description="Bad ratings.")


class ListPublishedV1(Event):
    """A red and black list (红黑榜) was published for a month, shown for at least 15 days."""

    ce_type = "cn.gov.onewindow.ratings.list-published.v1"

    month: str = Field(description="YYYY-MM.")
    display_from: datetime = Field(description="Shown from (UTC).")
    display_until: datetime = Field(description="Shown until (UTC).")
    red: list[ListedUnit] = Field(description="The red list (best).")
    black: list[ListedUnit] = Field(description="The black list (worst).")


class RequestSubmittedV1(Event):
    """A consultation, suggestion or complaint (咨询、建议、投诉) reached the department concerned."""

    ce_type = "cn.gov.onewindow.ratings.request-submitted.v1"

    kind: RequestKind = Field(description="Consultation, suggestion or complaint.")
    person_id: str = Field(description="Who asked (their account).")
    department: str = Field(description="The department concerned.")
    due_at: datetime = Field(description="Reply due by (UTC).")


class RequestRepliedV1(Event):
    """A consultation, suggestion or complaint was answered; the reply reaches the person's phone."""

    ce_type = "cn.gov.onewindow.ratings.request-replied.v1"

    kind: RequestKind = Field(description="Consultation, suggestion or complaint.")
    person_id: str = Field(description="Who asked.")
    department: str = Field(description="Who answered.")
    reply: str = Field(description="The reply (sent to the person).")
    within_time_limit: bool = Field(description="Answered within the time limit.")
