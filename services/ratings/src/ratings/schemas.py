"""HTTP DTOs: request bodies refuse unknown fields and bound every string, list and number."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from ratings.domain import (
    BoxOpening,
    Card,
    LedgerEntry,
    Level,
    Publication,
    Ranked,
    RateableCase,
    Reconciliation,
    Request,
    RequestKind,
    Slot,
    Vote,
    Window,
)
from ratings.ports import MonthResult
from ratings.service import ChainCheck, Report
from ratings.service.windows import HallView
from servicekit.text import Key, Line, Name, Paragraph, RequestModel

MAX_CARDS = 500
Serial = Annotated[str, Field(min_length=11, max_length=11, pattern=r"^[0-9]{10}[0-9Xx]$",
                              description="Ten digits and an ISO 7064 Mod 11,2 check character.")]
Day = Annotated[str, Field(pattern=r"^20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$", description="YYYY-MM-DD")]
Month = Annotated[str, Field(pattern=r"^20[0-9]{2}-(0[1-9]|1[0-2])$", description="YYYY-MM")]
Comment = Annotated[str, Paragraph(max_length=500)]
Text = Annotated[str, Paragraph(max_length=2000)]
Score = Annotated[int, Field(ge=1, le=5)]
IndicatorName = Annotated[str, Field(pattern=r"^(overall|efficiency|guide_accuracy|convenience|ease_of_use|service_level|attitude)$")]
Indicators = Annotated[dict[IndicatorName, Score], Field(max_length=7, description="Online: overall, efficiency, "
                       "guide_accuracy, convenience, ease_of_use; window and paper: overall, efficiency, "
                       "service_level, attitude. Scores 1-5.")]


# -- requests --------------------------------------------------------------------------------------
Business = Annotated[str, Line(max_length=40)]


class WindowIn(RequestModel):
    name: Annotated[str, Name(max_length=100)]
    department: Key | None = None
    staff: list[Key] = Field(default_factory=list, max_length=50, description="Staff accounts at the window.")
    staff_names: dict[Key, Annotated[str, Name(max_length=50)]] = Field(default_factory=dict, max_length=50)
    owner_id: Key | None = Field(default=None, description="Owner of the window's bad ratings in the ledger.")
    business: list[Business] = Field(default_factory=list, max_length=20,
                                     description="The matters the window handles (企业开办, 工程建设项目, ...): the hall screen.")


class TokenRatingIn(RequestModel):
    token: Annotated[str, Field(min_length=20, max_length=1000, pattern=r"^[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+$")]
    level: Level
    channel: Literal["web", "app", "mini_program"] = "mini_program"
    indicators: Indicators = Field(default_factory=dict)
    comment: Comment | None = None


class RatingIn(RequestModel):
    level: Level
    channel: Literal["web", "app", "mini_program"] = Field(default="app", description="Ignored at the window device.")
    indicators: Indicators = Field(default_factory=dict)
    comment: Comment | None = None


class ReviewIn(RequestModel):
    reason: Annotated[str, Paragraph(max_length=1000)]


class IssueIn(RequestModel):
    day: Day
    window_id: Key
    staff_id: Key
    first: Serial
    count: int = Field(ge=1, le=MAX_CARDS)


class SerialsIn(RequestModel):
    serials: list[Serial] = Field(min_length=1, max_length=MAX_CARDS)


class DropIn(SerialsIn):
    slot: Slot


class ReconcileIn(RequestModel):
    day: Day
    window_id: Key


class VoteIn(RequestModel):
    serial: Serial
    slot: Slot
    level: Level | None = None


class CountIn(RequestModel):
    window_id: Key = Field(description="The window whose box the cards came out of.")
    votes: list[VoteIn] = Field(min_length=1, max_length=MAX_CARDS)


class PublishIn(RequestModel):
    month: Month
    display_days: int = Field(ge=15, le=366, description="Shown at least 15 days.")
    display_from: datetime | None = Field(default=None, description="Default: now.")


class CallbackIn(RequestModel):
    outcome: Annotated[str, Paragraph(max_length=2000)]
    reasonable: bool = Field(description="Facts clear and request reasonable: rectify, feedback within 3 working days.")


class TextIn(RequestModel):
    text: Text


class RequestIn(RequestModel):
    kind: RequestKind
    department: Key
    text: Text


# -- answers ----------------------------------------------------------------------------------------
class WindowOut(BaseModel):
    window_id: str
    name: str
    department: str | None
    staff: list[str]
    owner_id: str | None
    business: list[str] = Field(default_factory=list, description="The matters the window handles.")

    @classmethod
    def of(cls, w: Window) -> WindowOut:
        return cls(window_id=w.window_id, name=w.name, department=w.department, staff=w.staff, owner_id=w.owner_id,
                   business=w.business)


class StaffOnDutyOut(BaseModel):
    staff_id: str = Field(description="工号 (the staff account at the window).")
    name: str = Field(description="姓名 as shown at the window (the id when no name was given).")


class HallWindowOut(BaseModel):
    window_id: str
    name: str
    department: str | None
    business: list[str]
    staff_on_duty: list[StaffOnDutyOut] = Field(description="The staff listed at the window (the roster).")


class HallTodayOut(BaseModel):
    date: str = Field(description="Today (Beijing time), YYYY-MM-DD.")
    ratings: int = Field(description="Ratings recorded today (online, at the window device and by link; "
                                     "paper votes count at the month's box opening).")
    satisfaction: float | None = Field(description="非常满意 + 满意 + 基本满意 over today's ratings (null: none yet).")


class HallOut(BaseModel):
    windows: list[HallWindowOut]
    today: HallTodayOut

    @classmethod
    def of(cls, h: HallView) -> HallOut:
        return cls(windows=[HallWindowOut(window_id=w.window_id, name=w.name, department=w.department,
                                          business=w.business,
                                          staff_on_duty=[StaffOnDutyOut(staff_id=s, name=n) for s, n in w.on_duty()])
                            for w in h.windows],
                   today=HallTodayOut(date=h.day, ratings=h.today.total,
                                      satisfaction=h.today.satisfaction_rate if h.today.total else None))


class RatingOut(BaseModel):
    level: str
    label: str
    bad: bool
    channel: str
    indicators: dict[str, int]
    rated_at: datetime
    comment: str | None = Field(default=None, description="What the person wrote (the ledger owner calls them "
                                "back about it).")


class CaseRatingOut(BaseModel):
    case_number: str
    matter: str
    window_id: str | None
    staff_id: str | None
    rateable: bool
    rating: RatingOut | None
    annulled: int

    @classmethod
    def of(cls, c: RateableCase) -> CaseRatingOut:
        r = c.rating
        return cls(case_number=c.case_number, matter=c.matter, window_id=c.window_id, staff_id=c.staff_id,
                   rateable=r is None and bool(c.token_id),
                   rating=RatingOut(level=r.level.value, label=r.level.label, bad=r.bad, channel=r.channel,
                                    indicators=r.indicators, rated_at=r.rated_at, comment=r.comment) if r else None,
                   annulled=len(c.annulled))


class CardOut(BaseModel):
    serial: str
    window_id: str
    staff_id: str
    day: str
    status: str
    slot: str | None

    @classmethod
    def of(cls, c: Card) -> CardOut:
        return cls(serial=c.serial, window_id=c.window_id, staff_id=c.staff_id, day=c.day, status=c.status.value,
                   slot=c.slot.value if c.slot else None)


class ReconciliationOut(BaseModel):
    day: str
    window_id: str
    issued: int
    used: int
    returned: int
    void: int
    missing: list[str]
    balanced: bool

    @classmethod
    def of(cls, r: Reconciliation) -> ReconciliationOut:
        return cls(day=r.day, window_id=r.window_id, issued=r.issued, used=r.used, returned=r.returned, void=r.void,
                   missing=list(r.missing), balanced=r.balanced)


class VoteOut(BaseModel):
    serial: str
    window_id: str
    level: str
    counted: bool
    flag: str | None

    @classmethod
    def of(cls, v: Vote) -> VoteOut:
        return cls(serial=v.serial, window_id=v.window_id, level=v.level.value, counted=v.counted,
                   flag=v.flag.value if v.flag else None)


class SignOffOut(BaseModel):
    body: str
    account: str
    at: datetime
    chain_head: str


class MonthResultOut(BaseModel):
    online: int
    paper: int
    total: int
    chain_head: str
    signed_by: list[str]


class BoxOut(BaseModel):
    month: str
    final: bool
    sign_offs: list[SignOffOut]
    flagged: list[VoteOut] = Field(default_factory=list)
    result: MonthResultOut | None = None

    @classmethod
    def of(cls, b: BoxOpening, flagged: list[Vote] | None = None, result: MonthResult | None = None) -> BoxOut:
        return cls(month=b.month, final=b.final,
                   sign_offs=[SignOffOut(body=s.body, account=s.account, at=s.at, chain_head=s.chain_head)
                              for s in b.sign_offs],
                   flagged=[VoteOut.of(v) for v in flagged or []],
                   result=MonthResultOut(online=result.online, paper=result.paper, total=result.online + result.paper,
                                         chain_head=result.chain_head, signed_by=result.signed_by) if result else None)


class RankedOut(BaseModel):
    kind: str
    id: str
    name: str
    ratings: int
    satisfaction_rate: float
    bad: int

    @classmethod
    def of(cls, r: Ranked) -> RankedOut:
        return cls(kind=r.kind, id=r.id, name=r.name, ratings=r.ratings, satisfaction_rate=r.satisfaction_rate, bad=r.bad)


class ListOut(BaseModel):
    month: str
    display_from: datetime
    display_until: datetime
    red: list[RankedOut]
    black: list[RankedOut]

    @classmethod
    def of(cls, p: Publication) -> ListOut:
        return cls(month=p.month, display_from=p.display_from, display_until=p.display_until,
                   red=[RankedOut.of(r) for r in p.red], black=[RankedOut.of(r) for r in p.black])


class VerificationOut(BaseModel):
    ok: bool
    records: int
    head: str
    broken_record: int | None = Field(description="The first record that does not verify (its sequence number).")
    broken_subject: str | None
    reason: str | None
    cards_checked: int
    card_mismatches: list[str] = Field(description="Stored cards that differ from what the log says, by serial.")

    @classmethod
    def of(cls, c: ChainCheck) -> VerificationOut:
        v = c.verification
        return cls(ok=c.ok, records=v.checked, head=v.head, broken_record=v.broken_seq, broken_subject=v.broken_subject,
                   reason=v.reason, cards_checked=c.cards_checked, card_mismatches=c.card_mismatches)


class EntryOut(BaseModel):
    entry_id: str
    kind: str
    case_number: str
    owner_id: str
    department: str | None
    window_id: str | None
    status: str
    opened_at: datetime
    callback_due_at: datetime
    called_back_at: datetime | None
    callback_outcome: str | None
    reasonable: bool | None
    feedback_due_at: datetime | None
    feedback: str | None
    explanation: str | None
    answered_at: datetime | None
    within_time_limit: bool | None
    overdue: bool

    @classmethod
    def of(cls, e: LedgerEntry) -> EntryOut:
        return cls(entry_id=e.entry_id, kind=e.kind, case_number=e.case_number, owner_id=e.owner_id,
                   department=e.department, window_id=e.window_id, status=e.status.value, opened_at=e.opened_at,
                   callback_due_at=e.callback_due_at, called_back_at=e.called_back_at,
                   callback_outcome=e.callback_outcome, reasonable=e.reasonable, feedback_due_at=e.feedback_due_at,
                   feedback=e.feedback, explanation=e.explanation, answered_at=e.answered_at,
                   within_time_limit=e.within_time_limit, overdue=e.overdue)


class RequestOut(BaseModel):
    request_id: str
    kind: str
    department: str
    text: str
    submitted_at: datetime
    due_at: datetime
    reply: str | None
    replied_at: datetime | None

    @classmethod
    def of(cls, r: Request) -> RequestOut:
        return cls(request_id=r.request_id, kind=r.kind.value, department=r.department, text=r.text,
                   submitted_at=r.submitted_at, due_at=r.due_at, reply=r.reply, replied_at=r.replied_at)


class RowOut(BaseModel):
    key: str
    counts: dict[str, int] = Field(description="Ratings per level, online and paper together.")
    online: int
    paper: int
    total: int
    bad: int
    satisfaction_rate: float


class ReportOut(BaseModel):
    month: str
    by: str
    rows: list[RowOut]
    ledger_entries: int
    callback_rate: float
    reply_rate: float
    not_called_back: list[str] = Field(description="Cases (or requests) that keep the callback rate below 100%.")
    not_replied: list[str] = Field(description="Cases (or requests) that keep the reply rate below 100%.")
    overdue_by_department: dict[str, int]
    requests: int
    request_reply_rate: float
    requests_unanswered: list[str]

    @classmethod
    def of(cls, r: Report) -> ReportOut:
        rows = []
        for row in r.rows:
            t = row.total
            rows.append(RowOut(key=row.key, counts=t.counts, online=row.online.total, paper=row.paper.total,
                               total=t.total, bad=t.bad, satisfaction_rate=t.satisfaction_rate))
        return cls(month=r.month, by=r.by, rows=rows, ledger_entries=r.entries, callback_rate=r.callback_rate,
                   reply_rate=r.reply_rate, not_called_back=r.not_called_back, not_replied=r.not_replied,
                   overdue_by_department=r.overdue_by_department, requests=r.requests,
                   request_reply_rate=r.request_reply_rate, requests_unanswered=r.requests_unanswered)


