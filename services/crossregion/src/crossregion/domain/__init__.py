"""Cross-region domain: partner regions (keys, agreements), the cross-region case (three modes,
parts, custody trail, timeline), the exchange documents, delivery backoff. Pure."""

from crossregion.domain.cases import CrossCase, Custody, Part, TimelineEntry, new_reference, reference_region
from crossregion.domain.delivery import Backlog, Backoff, Outgoing
from crossregion.domain.errors import DomainError, ExchangeRefused, InvalidState, NotAgreed, NotAllowed, NotFound
from crossregion.domain.exchange import CustodyUpdate, Exchange, ForwardedCase, StatusUpdate
from crossregion.domain.regions import MATTERS, MODES, PartnerRegion, RegionKey, division_problem

__all__ = [
    "MATTERS", "MODES", "Backlog", "Backoff", "CrossCase", "Custody", "CustodyUpdate", "DomainError", "Exchange",
    "ExchangeRefused", "ForwardedCase", "InvalidState", "NotAgreed", "NotAllowed", "NotFound", "Outgoing", "Part", "PartnerRegion",
    "RegionKey", "StatusUpdate", "TimelineEntry", "division_problem", "new_reference", "reference_region",
]
