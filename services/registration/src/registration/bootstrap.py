"""Composition root: settings → kit (telemetry, broker, Mongo in the lifespan) → routes, subscribers, timers."""

from __future__ import annotations

from fastapi import FastAPI

from registration import api, consumers, repository, service
from registration.config import Settings
from registration.domain import (
    CorrectionNotAllowed,
    DomainError,
    DuplicateSubmission,
    InvalidState,
    NameTaken,
    NotFound,
)
from servicekit.app import ServiceKit
from servicekit.clock import Clock
from servicekit.config import load
from servicekit.timers import Timer
from servicekit.workdays import WorkdayCalendar


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or load(Settings)  # type: ignore[assignment]
    assert isinstance(settings, Settings)
    kit: ServiceKit

    async def on_timer(tx: object, timer: Timer) -> None:
        await service.on_timer(tx, kind=timer.kind, case_number=timer.payload["case_number"],  # type: ignore[arg-type]
                               now=kit.clock.now())

    kit = ServiceKit(
        settings,
        repositories={"cases": repository.MongoCaseRepository},
        indexes=[repository.ensure_indexes],
        clock=clock,
        timer_handler=on_timer,
    )
    consumers.register(kit)
    app = kit.create_app(
        title="One Window — Registration (企业开办)",
        description="Company start-up from one form: business licence, then seal, tax and social security in "
        "parallel; one working day; results issued together at one window.",
        routers=[api.router],
        domain_errors={NotFound: 404, service.NotYourDepartment: 403, NameTaken: 409, InvalidState: 409,
                       CorrectionNotAllowed: 422, DuplicateSubmission: 409, DomainError: 422},
    )
    app.state.settings = settings
    app.state.calendar = WorkdayCalendar.from_settings(settings)
    return app
