"""What the use cases depend on: the repositories of one unit of work (declared once), the rating
token signer and the QR renderer (adapters: repository.py, tokens.py), a fired timer."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from ratings.domain import (
    BoxOpening,
    Card,
    ChainRecord,
    LedgerEntry,
    Publication,
    RateableCase,
    Reconciliation,
    Request,
    Tally,
    Vote,
    Window,
)
from servicekit.ports import Timers


class CaseRepository(Protocol):
    async def add_new(self, cases: list[RateableCase]) -> list[RateableCase]:
        """Insert the cases not stored yet (one bulk write); returns those inserted."""

    async def get(self, case_number: str) -> RateableCase:
        """Raises NotFound."""

    async def get_many(self, case_numbers: list[str]) -> dict[str, RateableCase]:
        """Those that exist, by number."""

    async def save(self, case: RateableCase) -> None:
        """Replace if the version is unchanged; raises ConcurrentUpdate otherwise."""

    async def save_many(self, cases: list[RateableCase]) -> None:
        """Replace each if its version is unchanged (one bulk write); raises ConcurrentUpdate otherwise."""


class WindowRepository(Protocol):
    async def get(self, window_id: str) -> Window: ...
    async def put(self, window: Window) -> None: ...
    async def all(self) -> list[Window]: ...

    async def of_staff(self, staff_id: str) -> Window | None:
        """The window a staff member works at, if any."""


class CardRepository(Protocol):
    async def add_many(self, cards: list[Card]) -> None:
        """Insert; raises Conflict (field ``first``) when a serial was issued before."""

    async def get_many(self, serials: list[str]) -> dict[str, Card]: ...
    async def save_many(self, cards: list[Card]) -> None: ...
    async def of_day(self, day: str, window_id: str) -> list[Card]: ...
    async def all(self) -> list[Card]: ...
    async def put_reconciliation(self, rec: Reconciliation, at: datetime) -> bool:
        """Store the day's reconciliation; True if it differs from the one stored before."""

    async def reconciliations(self, day: str) -> list[Reconciliation]: ...


class ChainRepository(Protocol):
    async def head(self) -> tuple[int, str]:
        """(seq, hash) of the last record; (0, GENESIS) when empty."""

    async def append(self, head: tuple[int, str], records: list[ChainRecord]) -> None:
        """Insert the records and move the head, if it is still ``head``; ConcurrentUpdate otherwise."""

    async def all(self) -> list[ChainRecord]: ...


class BoxRepository(Protocol):
    async def get(self, month: str) -> BoxOpening: ...
    async def add(self, box: BoxOpening) -> None: ...
    async def save(self, box: BoxOpening) -> None: ...
    async def counted(self, month: str, serials: list[str]) -> set[str]: ...
    async def add_votes(self, month: str, votes: list[Vote], at: datetime) -> None: ...
    async def flagged(self, month: str) -> list[Vote]: ...


class MonthResult(NamedTuple):
    month: str
    online: int
    paper: int
    chain_head: str
    signed_by: list[str]


class LedgerRepository(Protocol):
    async def add(self, entry: LedgerEntry) -> None: ...
    async def add_many(self, entries: list[LedgerEntry]) -> None: ...
    async def get(self, entry_id: str) -> LedgerEntry: ...
    async def save(self, entry: LedgerEntry) -> None: ...
    async def of_case(self, case_number: str) -> LedgerEntry | None: ...
    async def find(self, *, owner_id: str | None, status: str | None, month: str | None, limit: int) -> list[LedgerEntry]: ...


class RequestRepository(Protocol):
    async def add(self, request: Request) -> None: ...
    async def get(self, request_id: str) -> Request: ...
    async def save(self, request: Request) -> None: ...
    async def of_month(self, month: str) -> list[Request]: ...


class ListRepository(Protocol):
    async def add(self, publication: Publication) -> None:
        """Insert; raises Conflict when the month's list was published already (immutable)."""

    async def get(self, month: str) -> Publication: ...
    async def on_display(self, now: datetime) -> list[Publication]: ...
    async def add_result(self, result: MonthResult) -> None: ...
    async def result(self, month: str) -> MonthResult | None: ...


Unit = tuple[str, str]  # (kind, id)


class StatsRepository(Protocol):
    """Figures from running tallies (one small document per month, window, staff member,
    department, matter and level, counted as ratings are recorded, annulled or counted from the
    box), so a month closes by reading a few hundred documents, not every rating."""

    async def count_ratings(self, cases: list[RateableCase], delta: int) -> None:
        """Count the cases' (current) ratings in their months' tallies: +1 recorded, -1 annulled."""

    async def online(self, month: str, by: str) -> dict[str, Tally]:
        """Ratings counted in ``month`` (not annulled), grouped by window, staff, department, matter or month."""

    async def paper(self, month: str, by: str) -> dict[str, Tally]:
        """Paper votes counted in ``month``, by window or staff."""

    async def day(self, day: str) -> Tally:
        """Ratings recorded on ``day`` (YYYY-MM-DD, Beijing time; not annulled), all windows."""

    async def count_online(self, month: str) -> int: ...
    async def count_paper(self, month: str) -> int: ...


class KeyRepository(Protocol):
    async def secret(self, name: str) -> bytes:
        """The service's named secret, made (random, 32 bytes) the first time it is asked for."""


class Repositories(Protocol):
    @property
    def cases(self) -> CaseRepository: ...
    @property
    def windows(self) -> WindowRepository: ...
    @property
    def cards(self) -> CardRepository: ...
    @property
    def chain(self) -> ChainRepository: ...
    @property
    def boxes(self) -> BoxRepository: ...
    @property
    def ledger(self) -> LedgerRepository: ...
    @property
    def requests(self) -> RequestRepository: ...
    @property
    def lists(self) -> ListRepository: ...
    @property
    def stats(self) -> StatsRepository: ...
    @property
    def keys(self) -> KeyRepository: ...
    @property
    def timers(self) -> Timers: ...


class TokenClaims(NamedTuple):
    case_number: str
    token_id: str


class RatingTokens(Protocol):
    def issue(self, case_number: str, token_id: str, expires_at: datetime) -> str:
        """A signed token that rates ``case_number`` once (its id ``token_id``), until ``expires_at``."""

    def read(self, token: str, now: datetime) -> TokenClaims:
        """The token's claims; TokenRefused if forged, malformed or expired."""


class QrRenderer(Protocol):
    def png(self, text: str) -> bytes: ...


class Calendar(Protocol):
    def add_workdays(self, start: datetime, n: int) -> datetime: ...


class DueTimer(Protocol):
    @property
    def kind(self) -> str: ...

    @property
    def payload(self) -> Mapping[str, Any]: ...
