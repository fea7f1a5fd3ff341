"""Composition root: settings → kit (telemetry, broker, Mongo in the lifespan) → use cases →
routes, subscribers, timers."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI

from registration import api, consumers
from registration.config import Settings
from registration.domain import (
    CorrectionNotAllowed,
    DomainError,
    InvalidState,
    NameTaken,
    NotFound,
    NotYourDepartment,
)
from registration.ports import Repositories
from registration.repository import MongoRepositories, ensure_indexes
from registration.service import Registration
from servicekit.app import ServiceKit
from servicekit.clock import Clock
from servicekit.config import load
from servicekit.ports import Tx
from servicekit.timers import Timer
from servicekit.workdays import WorkdayCalendar


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or load(Settings)

    async def on_timer(tx: Tx[Repositories], timer: Timer) -> None:
        await registration.on_timer(tx, timer)

    kit = ServiceKit(settings, bind=MongoRepositories.bind, indexes=[ensure_indexes], clock=clock,
                     timer_handler=on_timer)
    registration = Registration(
        uow=kit.uow, calendar=WorkdayCalendar.from_settings(settings), clock=kit.clock,
        warning_before=timedelta(hours=settings.warning_before_hours),
        re_request_before=timedelta(hours=settings.re_request_before_hours),
        at_risk_within=timedelta(hours=settings.at_risk_within_hours),
        on_provisional=lambda year: kit.metrics.provisional_deadlines.labels(str(year)).inc())

    async def redate(_kit: ServiceKit[Repositories]) -> None:  # a year's override file may have arrived
        await registration.redate_provisional()

    kit.on_start.append(redate)
    consumers.register(kit, registration)
    return kit.create_app(
        title="One Window — Registration (企业开办)",
        description="Company start-up from one form: business licence, then seal, tax and social security in "
        "parallel; one working day; results issued together at one window.",
        routers=[api.router, api.figures],
        domain_errors={NotFound: 404, NotYourDepartment: 403, NameTaken: 409, InvalidState: 409,
                       CorrectionNotAllowed: 422, DomainError: 422},
        provide={api.registration: registration},
    )
