"""Use cases of ratings, one class per area, built by the composition root."""

from ratings.service.cards import Cards, ChainCheck, Entry
from ratings.service.common import CONSUMER, EVENTS
from ratings.service.ledger import OVERDUE, WARNING, Ledger
from ratings.service.rating import Ratings
from ratings.service.statistics import By, Report, Row, Statistics
from ratings.service.windows import Roster

__all__ = ["CONSUMER", "EVENTS", "OVERDUE", "WARNING", "By", "Cards", "ChainCheck", "Entry", "Ledger", "Ratings",
           "Report", "Roster", "Row", "Statistics"]
