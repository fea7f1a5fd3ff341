"""What every use case of ratings shares: the event table, who may do what, ids."""

from __future__ import annotations

import secrets
from datetime import datetime

from contracts import Event
from contracts.events import ratings as ev
from ratings.domain import Forbidden, facts
from servicekit.aggregate import Aggregate
from servicekit.events import EventMap
from servicekit.principal import Principal, Role

CONSUMER = "ratings"
SUPERVISING = frozenset({Role.SUPERVISOR, Role.OPERATOR})

EVENTS = EventMap("/one-window/ratings", {
    facts.RatingInvited: ev.RatingInvitedV1,
    facts.RatingRecorded: ev.RatingRecordedV1,
    facts.RatingAnnulled: ev.RatingAnnulledV1,
    facts.LedgerEntryOpened: ev.LedgerEntryOpenedV1,
    facts.CallbackRecorded: ev.CallbackRecordedV1,
    facts.RectificationFeedbackGiven: ev.RectificationFeedbackGivenV1,
    facts.ExplanationGiven: ev.ExplanationGivenV1,
    facts.RectificationDueWarning: ev.RectificationDueWarningV1,
    facts.RectificationOverdue: ev.RectificationOverdueV1,
    facts.CardDayMismatch: ev.CardDayMismatchV1,
    facts.MonthFinalised: ev.MonthFinalisedV1,
    facts.RequestSubmitted: ev.RequestSubmittedV1,
    facts.RequestReplied: ev.RequestRepliedV1,
})


def events_of(agg: Aggregate, subject: str, now: datetime, correlation_id: str = "",
              cause: Event | None = None) -> list[Event]:
    return EVENTS.to_events(agg.pull_events(), subject=subject, now=now, correlation_id=correlation_id or subject,
                            cause=cause)


def new_id(prefix: str, now: datetime) -> str:
    return f"{prefix}{now:%Y%m%d}{secrets.token_hex(4).upper()}"


def supervising(caller: Principal) -> bool:
    return caller.role in SUPERVISING


def require(caller: Principal, *roles: Role) -> None:
    if caller.role not in roles:
        raise Forbidden(f"role {caller.role.value} may not do this")
