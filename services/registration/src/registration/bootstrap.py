"""Composition root: settings → kit (telemetry, broker, Mongo in the lifespan) → routes, subscribers."""

from __future__ import annotations

from fastapi import FastAPI

from registration import api, consumers, repository
from registration.config import Settings
from registration.domain import DomainError
from servicekit.app import ServiceKit
from servicekit.clock import Clock
from servicekit.config import load


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or load(Settings)  # type: ignore[assignment]
    kit = ServiceKit(
        settings,
        repositories={"applications": repository.MongoApplicationRepository},
        indexes=[repository.ensure_indexes],
        clock=clock,
    )
    consumers.register(kit)
    return kit.create_app(
        title="One Window — Registration (企业开办)",
        description="Company start-up: one form, licence → seal, tax, social security, in one working day.",
        routers=[api.router],
        domain_errors={DomainError: 409},
    )
