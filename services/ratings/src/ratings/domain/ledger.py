"""The bad-rating and complaint ledger (差评台账): every bad rating and complaint has an owner who
calls the person back (电话回访); a reasonable request is rectified at once (立行立改) with
feedback within 3 working days, one without legal basis gets an explanation; a review
(申诉复核) may annul a mistaken or malicious rating."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from ratings.domain import facts
from ratings.domain.errors import Conflict, Forbidden
from servicekit.aggregate import Aggregate

FEEDBACK_WORKDAYS = 3


class EntryStatus(StrEnum):
    OPEN = "open"  # waiting for the callback
    RECTIFYING = "rectifying"  # called back, reasonable: feedback due
    ANSWERED = "answered"  # feedback given, or explanation sent
    ANNULLED = "annulled"  # the review annulled the rating


@dataclass(kw_only=True)
class LedgerEntry(Aggregate):
    entry_id: str
    kind: str  # bad_rating | complaint
    case_number: str  # the rated case, or the complaint's id
    applicant_id: str | None
    department: str | None
    window_id: str | None
    owner_id: str
    opened_at: datetime
    callback_due_at: datetime
    month: str
    status: EntryStatus = EntryStatus.OPEN
    called_back_at: datetime | None = None
    callback_outcome: str | None = None
    reasonable: bool | None = None
    feedback_due_at: datetime | None = None
    feedback: str | None = None
    explanation: str | None = None
    answered_at: datetime | None = None
    within_time_limit: bool | None = None
    warned: bool = False
    overdue: bool = False
    review_reason: str | None = None
    correlation_id: str = ""

    @classmethod
    def open(cls, *, entry_id: str, kind: str, case_number: str, applicant_id: str | None, department: str | None,
             window_id: str | None, owner_id: str, now: datetime, callback_due_at: datetime, month: str,
             correlation_id: str = "") -> LedgerEntry:
        entry = cls(entry_id=entry_id, kind=kind, case_number=case_number, applicant_id=applicant_id,
                    department=department, window_id=window_id, owner_id=owner_id, opened_at=now,
                    callback_due_at=callback_due_at, month=month, correlation_id=correlation_id or case_number)
        entry.record(facts.LedgerEntryOpened(entry_id=entry_id, kind=kind, owner_id=owner_id, applicant_id=applicant_id,
                                             department=department, window_id=window_id,
                                             callback_due_at=callback_due_at))
        return entry

    @property
    def called_back(self) -> bool:
        return self.called_back_at is not None

    @property
    def replied(self) -> bool:
        return self.status in (EntryStatus.ANSWERED, EntryStatus.ANNULLED)

    def _owner(self, who: str, supervisor: bool) -> None:
        if who != self.owner_id and not supervisor:
            raise Forbidden(f"entry {self.entry_id} belongs to {self.owner_id}")

    def callback(self, *, by: str, supervisor: bool, outcome: str, reasonable: bool, now: datetime,
                 feedback_due_at: datetime) -> bool:
        """Record the callback. Reasonable: rectify, feedback due in 3 working days; not: explain."""
        self._owner(by, supervisor)
        if self.status is not EntryStatus.OPEN:
            if self.called_back and self.callback_outcome == outcome and self.reasonable == reasonable:
                return False  # the same callback again
            raise Conflict(f"entry {self.entry_id} was called back already")
        self.called_back_at, self.callback_outcome, self.reasonable = now, outcome, reasonable
        self.feedback_due_at = feedback_due_at if reasonable else None
        self.status = EntryStatus.RECTIFYING if reasonable else self.status
        self.record(facts.CallbackRecorded(entry_id=self.entry_id, owner_id=self.owner_id, reasonable=reasonable,
                                           feedback_due_at=self.feedback_due_at))
        return True

    def give_feedback(self, *, by: str, supervisor: bool, feedback: str, now: datetime) -> bool:
        self._owner(by, supervisor)
        if self.status is EntryStatus.ANSWERED and self.feedback == feedback:
            return False
        if self.status is not EntryStatus.RECTIFYING:
            raise Conflict(f"entry {self.entry_id} is {self.status.value}: feedback follows a callback that "
                           "found the request reasonable")
        self.feedback, self.answered_at, self.status = feedback, now, EntryStatus.ANSWERED
        self.within_time_limit = self.feedback_due_at is None or now <= self.feedback_due_at
        self.record(facts.RectificationFeedbackGiven(entry_id=self.entry_id, applicant_id=self.applicant_id,
                                                     feedback=feedback, within_time_limit=self.within_time_limit))
        return True

    def explain(self, *, by: str, supervisor: bool, explanation: str, now: datetime) -> bool:
        self._owner(by, supervisor)
        if self.status is EntryStatus.ANSWERED and self.explanation == explanation:
            return False
        if self.status is not EntryStatus.OPEN or not self.called_back or self.reasonable:
            raise Conflict(f"entry {self.entry_id}: an explanation follows a callback that found no legal basis")
        self.explanation, self.answered_at, self.status = explanation, now, EntryStatus.ANSWERED
        self.within_time_limit = True
        self.record(facts.ExplanationGiven(entry_id=self.entry_id, applicant_id=self.applicant_id,
                                           explanation=explanation))
        return True

    def annul(self, *, reason: str, now: datetime) -> None:
        if self.kind != "bad_rating":
            raise Conflict("only a rating can be annulled by a review", field="entry_id")
        if self.status is EntryStatus.ANNULLED:
            raise Conflict(f"entry {self.entry_id} was annulled already")
        self.status, self.review_reason, self.answered_at = EntryStatus.ANNULLED, reason, now

    def warn(self) -> bool:
        if self.status is not EntryStatus.RECTIFYING or self.warned or self.feedback_due_at is None:
            return False
        self.warned = True
        self.record(facts.RectificationDueWarning(entry_id=self.entry_id, owner_id=self.owner_id,
                                                  due_at=self.feedback_due_at))
        return True

    def mark_overdue(self) -> bool:
        if self.status is not EntryStatus.RECTIFYING or self.overdue or self.feedback_due_at is None:
            return False
        self.overdue = True
        self.record(facts.RectificationOverdue(entry_id=self.entry_id, owner_id=self.owner_id,
                                               department=self.department, due_at=self.feedback_due_at))
        return True


class RequestKind(StrEnum):
    CONSULTATION = "consultation"
    SUGGESTION = "suggestion"
    COMPLAINT = "complaint"


@dataclass(kw_only=True)
class Request(Aggregate):
    """A consultation, suggestion or complaint (咨询、建议、投诉) for a department, with a time limit."""

    request_id: str
    kind: RequestKind
    person_id: str
    department: str
    text: str
    submitted_at: datetime
    due_at: datetime
    reply: str | None = None
    replied_at: datetime | None = None
    replied_by: str | None = None

    @classmethod
    def submit(cls, *, request_id: str, kind: RequestKind, person_id: str, department: str, text: str,
               now: datetime, due_at: datetime) -> Request:
        req = cls(request_id=request_id, kind=kind, person_id=person_id, department=department, text=text,
                  submitted_at=now, due_at=due_at)
        req.record(facts.RequestSubmitted(kind=kind.value, person_id=person_id, department=department, due_at=due_at))
        return req

    def answer(self, *, reply: str, by: str, department: str | None, supervisor: bool, now: datetime) -> bool:
        if department != self.department and not supervisor:
            raise Forbidden(f"request {self.request_id} is for {self.department}")
        if self.reply is not None:
            if self.reply == reply:
                return False
            raise Conflict(f"request {self.request_id} was answered already")
        self.reply, self.replied_at, self.replied_by = reply, now, by
        self.record(facts.RequestReplied(kind=self.kind.value, person_id=self.person_id, department=self.department,
                                         reply=reply, within_time_limit=now <= self.due_at))
        return True
