"""Use cases of the rating itself: a completed case opens (invitation with a signed link), then
one rating by token, by the applicant in the app, or at the window's device; a bad rating opens
a ledger entry in the same transaction."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

from contracts import Event
from contracts.events.approvals import StageCompletedV1
from contracts.events.crossregion import CrossRegionCaseCompletedV1
from contracts.events.registration import CaseCompletedV1
from ratings.domain import (
    DomainError,
    Forbidden,
    LedgerEntry,
    Level,
    NotFound,
    RateableCase,
    Rating,
    TokenRefused,
    month_of,
)
from ratings.ports import Calendar, QrRenderer, RatingTokens, Repositories
from ratings.service.common import CONSUMER, events_of, new_id, supervising
from servicekit.batching import Batcher
from servicekit.clock import Clock
from servicekit.ports import Tx, UnitOfWork
from servicekit.principal import Principal, Role

Completion = CaseCompletedV1 | StageCompletedV1 | CrossRegionCaseCompletedV1
SOURCES = {CaseCompletedV1: "registration", StageCompletedV1: "approvals", CrossRegionCaseCompletedV1: "crossregion"}


class TokenRating(NamedTuple):
    case_number: str
    token_id: str
    level: Level
    indicators: dict[str, int]
    comment: str | None
    channel: str


class Ratings:
    def __init__(self, *, uow: UnitOfWork[Repositories], tokens: RatingTokens, qr: QrRenderer, clock: Clock,
                 calendar: Calendar, link_base: str, token_ttl: timedelta, default_owner: str,
                 callback_workdays: int = 1) -> None:
        self.uow, self.tokens, self.qr, self.clock, self.calendar = uow, tokens, qr, clock, calendar
        self.link_base, self.token_ttl, self.default_owner = link_base, token_ttl, default_owner
        self.callback_workdays = callback_workdays
        self._by_token: Batcher[TokenRating, RateableCase] = Batcher(self._rate_batch, max_size=64)

    def _link(self, case_number: str, token_id: str, expires_at: datetime) -> str:
        return f"{self.link_base}{self.tokens.issue(case_number, token_id, expires_at)}"

    # -- completion events -----------------------------------------------------------------
    async def open_completed(self, completions: Sequence[Event]) -> dict[int, str]:
        """Cases completed (registration's, approvals' and crossregion's events, one fetch): each opens for
        rating once and its applicant is invited. A completion seen before (same event, or the
        same case under another event id) changes nothing."""
        now = self.clock.now()

        async def work(tx: Tx[Repositories], fresh: list[Event]) -> dict[int, str]:
            opened: dict[str, RateableCase] = {}
            causes: dict[str, Completion] = {}
            for e in fresh:
                if e.case_number in opened or not isinstance(e, Completion):
                    continue
                causes[e.case_number] = e
                staff = e.staff_id
                window = await tx.repos.windows.of_staff(staff) if staff else None
                token_id, expires = secrets.token_hex(8), now + self.token_ttl
                department = (e.departments[0] if isinstance(e, StageCompletedV1) and e.departments
                              else window.department if window else None)
                matter = (e.kind if isinstance(e, CaseCompletedV1) else e.stage if isinstance(e, StageCompletedV1)
                          else e.matter)
                opened[e.case_number] = RateableCase.open(
                    case_number=e.case_number, source=SOURCES[type(e)],
                    applicant_id=e.applicant_id, matter=matter, completed_at=e.completed_at,
                    window_id=window.window_id if window else None, staff_id=staff, department=department,
                    correlation_id=e.correlation_id, token_id=token_id, token_expires_at=expires,
                    rating_url=self._link(e.case_number, token_id, expires))
            if opened:
                for case in await tx.repos.cases.add_new(list(opened.values())):
                    tx.emit(events_of(case, case.case_number, now, case.correlation_id, cause=causes[case.case_number]))
            return {}

        return await self.uow.consume(CONSUMER, list(completions), work)

    # -- rating ----------------------------------------------------------------------------------
    async def rate_by_token(self, token: str, *, level: Level, indicators: dict[str, int], comment: str | None,
                            channel: str) -> RateableCase:
        """Web, app or mini-program after scanning the code: the token is the authority. Ratings
        arriving together are recorded in one transaction (group commit, ``servicekit.batching``)."""
        claims = self.tokens.read(token, self.clock.now())
        return await self._by_token.submit(TokenRating(claims.case_number, claims.token_id, level, dict(indicators),
                                                       comment, channel))

    async def _rate_batch(self, batch: list[TokenRating]) -> list[RateableCase | BaseException]:
        now = self.clock.now()

        async def work(tx: Tx[Repositories]) -> list[RateableCase | BaseException]:
            cases = await tx.repos.cases.get_many(list({r.case_number for r in batch}))
            results: list[RateableCase | BaseException] = []
            rated: dict[str, RateableCase] = {}
            for r in batch:
                case = cases.get(r.case_number)
                try:
                    if case is None:
                        raise TokenRefused("this rating link names no case")
                    if case.rating is not None and case.rating.by == f"token:{r.token_id}" \
                            and case.rating.level is r.level:
                        results.append(case)  # the same rating again (a retry after a lost reply): its first answer
                        continue
                    case.check_token(r.token_id, now)
                    case.rate(level=r.level, channel=r.channel, indicators=r.indicators, comment=r.comment,
                              by=f"token:{r.token_id}", now=now)
                except DomainError as exc:
                    results.append(exc)
                    continue
                rated[case.case_number] = case
                results.append(case)
            if rated:
                await self._save_rated_many(tx, list(rated.values()), now)
            return results

        return await self.uow.run(work)

    async def rate(self, caller: Principal, case_number: str, *, level: Level, indicators: dict[str, int],
                   comment: str | None, channel: str) -> RateableCase:
        """The applicant, logged in (app, web), rates their own case; window staff at the device
        rate the case they served, one at a time (the applicant presses the key)."""
        now = self.clock.now()

        async def work(tx: Tx[Repositories]) -> RateableCase:
            case = await tx.repos.cases.get(case_number)
            if caller.role is Role.WINDOW_STAFF:
                window = await tx.repos.windows.of_staff(caller.sub)
                if case.staff_id != caller.sub and (window is None or window.window_id != case.window_id):
                    raise Forbidden(f"case {case_number} was not served at your window")
                case.rate(level=level, channel="window_device", indicators=indicators, comment=comment,
                          by=caller.sub, now=now)
            else:
                if case.applicant_id != caller.sub:
                    raise NotFound(f"no case {case_number}")
                case.rate(level=level, channel=channel, indicators=indicators, comment=comment, by=caller.sub,
                          now=now)
            return await self._save_rated(tx, case, now)

        return await self.uow.run(work)

    async def _save_rated(self, tx: Tx[Repositories], case: RateableCase, now: datetime) -> RateableCase:
        await self._save_rated_many(tx, [case], now)
        return case

    async def _save_rated_many(self, tx: Tx[Repositories], cases: list[RateableCase], now: datetime) -> None:
        """Rated cases saved and counted (one bulk write each); a bad rating opens a ledger entry."""
        await tx.repos.cases.save_many(cases)
        await tx.repos.stats.count_ratings(cases, +1)
        entries: list[LedgerEntry] = []
        for case in cases:
            tx.emit(events_of(case, case.case_number, now, case.correlation_id))
            if case.rating is not None and case.rating.bad:
                entry = await self._entry_for(tx, case, case.rating, now)
                entries.append(entry)
                tx.emit(events_of(entry, case.case_number, now, case.correlation_id))
        if entries:
            await tx.repos.ledger.add_many(entries)

    async def _entry_for(self, tx: Tx[Repositories], case: RateableCase, rating: Rating,
                         now: datetime) -> LedgerEntry:
        window = await tx.repos.windows.get(case.window_id) if case.window_id else None
        owner = (window.owner_id if window and window.owner_id else None) or self.default_owner
        entry = LedgerEntry.open(entry_id=new_id("CP", now), kind="bad_rating", case_number=case.case_number,
                                 applicant_id=case.applicant_id, department=case.department,
                                 window_id=case.window_id, owner_id=owner, now=now,
                                 callback_due_at=self.calendar.add_workdays(now, self.callback_workdays),
                                 month=month_of(rating.rated_at), correlation_id=case.correlation_id)
        return entry

    # -- review (申诉复核) ------------------------------------------------------------------------
    async def annul(self, caller: Principal, case_number: str, *, reason: str) -> RateableCase:
        """A supervisor's review finds the rating mistaken or malicious: it is annulled (audit kept
        on the case and on the ledger entry), and the applicant may rate again with a new link."""
        if not supervising(caller):
            raise Forbidden("only a supervisor reviews a rating")
        now = self.clock.now()

        async def work(tx: Tx[Repositories]) -> RateableCase:
            case = await tx.repos.cases.get(case_number)
            entry = await tx.repos.ledger.of_case(case_number)
            token_id, expires = secrets.token_hex(8), now + self.token_ttl
            await tx.repos.stats.count_ratings([case], -1)  # the rating stops counting
            case.annul(reason=reason, reviewer_id=caller.sub, now=now, token_id=token_id, token_expires_at=expires,
                       rating_url=self._link(case_number, token_id, expires),
                       entry_id=entry.entry_id if entry else None)
            await tx.repos.cases.save(case)
            if entry is not None:
                entry.annul(reason=reason, now=now)
                await tx.repos.ledger.save(entry)
            tx.emit(events_of(case, case_number, now, case.correlation_id))
            return case

        return await self.uow.run(work)

    # -- reads -------------------------------------------------------------------------------------
    async def get(self, caller: Principal, case_number: str) -> RateableCase:
        case = await self.uow.read(lambda repos: repos.cases.get(case_number))
        if not caller.is_staff and case.applicant_id != caller.sub:
            raise NotFound(f"no case {case_number}")
        return case

    async def qr_png(self, caller: Principal, case_number: str) -> bytes:
        """The case's rating link as a QR code for the window's receipt (the current token)."""
        case = await self.get(caller, case_number)
        if case.rating is not None or not case.token_id or case.token_expires_at is None:
            raise NotFound(f"case {case_number} has no open rating link")
        return self.qr.png(self._link(case_number, case.token_id, case.token_expires_at))
