"""Composition root: settings → the kit (broker, database, unit of work) → use cases → routes, subscribers, timers."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI

from approvals import api, consumers
from approvals.config import Settings, load_catalogue
from approvals.domain import AlreadyExists, DomainError, InvalidState, NotFound, NotYourDepartment
from approvals.ports import Repositories
from approvals.repository import MongoRepositories, ensure_indexes
from approvals.service import Approvals
from servicekit.app import ServiceKit
from servicekit.clock import Clock
from servicekit.config import load
from servicekit.ports import Tx
from servicekit.timers import Timer
from servicekit.workdays import WorkdayCalendar


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or load(Settings)
    catalogue = load_catalogue(settings.catalogue_path)  # a bad file stops the start, naming every problem

    async def on_timer(tx: Tx[Repositories], timer: Timer) -> None:
        await use_cases.on_timer(tx, timer)

    kit = ServiceKit(settings, bind=MongoRepositories.bind, indexes=[ensure_indexes], clock=clock,
                     timer_handler=on_timer)
    use_cases = consumers.subscribe(kit, Approvals(
        uow=kit.uow, catalogue=catalogue, calendar=WorkdayCalendar.from_settings(settings), clock=kit.clock,
        warning_before=timedelta(hours=settings.warning_before_hours),
        at_risk_within=timedelta(hours=settings.at_risk_within_hours)))
    return kit.create_app(title=api.TITLE, description=api.DESCRIPTION, routers=[api.router],
                          domain_errors={NotFound: 404, NotYourDepartment: 403, AlreadyExists: 409, InvalidState: 409,
                                         DomainError: 422},
                          provide={api.cases: use_cases})
