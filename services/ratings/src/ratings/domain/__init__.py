"""The ratings domain (好差评): pure rules, no I/O (import-linter checks it)."""

from ratings.domain.cards import (
    OVERSIGHT_BODIES,
    BoxOpening,
    Card,
    CardStatus,
    Flag,
    Reconciliation,
    SignOff,
    Slot,
    Vote,
    check_serial,
    classify,
    level_for,
    make_serial,
    reconcile,
    serial_range,
)
from ratings.domain.chain import GENESIS, ChainRecord, Verification, card_states, extend, verify
from ratings.domain.errors import (
    AlreadyRated,
    Conflict,
    DisplayTooShort,
    DomainError,
    Forbidden,
    InvalidSerial,
    NotFound,
    SignOffRefused,
    TokenRefused,
)
from ratings.domain.ledger import FEEDBACK_WORKDAYS, EntryStatus, LedgerEntry, Request, RequestKind
from ratings.domain.levels import BAD, Level, check_indicators
from ratings.domain.rating import Annulled, RateableCase, Rating, month_of
from ratings.domain.roster import Window
from ratings.domain.stats import MIN_DISPLAY_DAYS, Publication, Ranked, RankingRules, Tally, rank, rate

__all__ = [
    "BAD", "FEEDBACK_WORKDAYS", "GENESIS", "MIN_DISPLAY_DAYS", "OVERSIGHT_BODIES", "AlreadyRated", "Annulled",
    "BoxOpening", "Card", "CardStatus", "ChainRecord", "Conflict", "DisplayTooShort", "DomainError", "EntryStatus",
    "Flag", "Forbidden", "InvalidSerial", "LedgerEntry", "Level", "NotFound", "Publication", "RateableCase", "Ranked",
    "RankingRules", "Rating", "Reconciliation", "Request", "RequestKind", "SignOff", "SignOffRefused", "Slot",
    "Tally", "TokenRefused", "Vote", "Window", "card_states", "check_indicators", "check_serial", "classify", "extend",
    "level_for", "make_serial", "month_of", "rank", "rate", "reconcile", "serial_range", "verify",
]
