"""Composition root: settings → the kit (broker, database, unit of work) → use cases → routes, subscribers."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI

from ratings import api, consumers
from ratings.config import Settings
from ratings.domain import (
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
from ratings.ports import Repositories
from ratings.repository import MongoRepositories, ensure_indexes
from ratings.service import Cards, Ledger, Ratings, Roster, Statistics
from ratings.tokens import JwtRatingTokens, SegnoQr
from servicekit.app import ServiceKit
from servicekit.clock import Clock
from servicekit.config import load
from servicekit.fileclock import FileClock
from servicekit.ports import Tx
from servicekit.timers import Timer
from servicekit.workdays import WorkdayCalendar

TOKEN_KEY = "rating-token-hs256"


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or load(Settings)
    clock = clock or (FileClock(settings.clock_file) if settings.clock_file else None)

    async def on_timer(tx: Tx[Repositories], timer: Timer) -> None:
        await ledger.on_timer(tx, timer)

    kit = ServiceKit(settings, bind=MongoRepositories.bind, indexes=[ensure_indexes], clock=clock,
                     timer_handler=on_timer)
    calendar = WorkdayCalendar.from_settings(settings)
    tokens = JwtRatingTokens()
    ratings = Ratings(uow=kit.uow, tokens=tokens, qr=SegnoQr(), clock=kit.clock, calendar=calendar,
                      link_base=settings.rating_link_base, token_ttl=timedelta(days=settings.token_ttl_days),
                      default_owner=settings.default_ledger_owner, callback_workdays=settings.callback_workdays)
    ledger = Ledger(uow=kit.uow, clock=kit.clock, calendar=calendar,
                    warning_before=timedelta(hours=settings.warning_before_hours),
                    request_workdays=settings.request_workdays, default_owner=settings.default_ledger_owner,
                    callback_workdays=settings.callback_workdays)
    cards = Cards(uow=kit.uow, clock=kit.clock, rules=settings.ranking())

    async def load_key(_kit: ServiceKit[Repositories]) -> None:  # the signing key lives in the database
        tokens.load(await kit.uow.autocommit(lambda repos: repos.keys.secret(TOKEN_KEY)))

    kit.on_start.insert(0, load_key)
    consumers.subscribe(kit, ratings)
    return kit.create_app(
        title=api.TITLE, description=api.DESCRIPTION, routers=[api.router],
        domain_errors={NotFound: 404, Forbidden: 403, AlreadyRated: 409, Conflict: 409, TokenRefused: 422,
                       InvalidSerial: 422, SignOffRefused: 422, DisplayTooShort: 422, DomainError: 422},
        provide={api.ratings: ratings, api.cards: cards, api.ledger: ledger, api.stats: Statistics(uow=kit.uow),
                 api.roster: Roster(uow=kit.uow, clock=kit.clock)})
