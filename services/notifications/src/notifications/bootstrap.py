"""Composition root: settings → kit (telemetry, broker, Mongo in the lifespan) → routes, subscribers."""

from __future__ import annotations

from fastapi import FastAPI

from notifications import api, consumers, repository
from notifications.config import Settings
from servicekit.app import ServiceKit
from servicekit.clock import Clock
from servicekit.config import load


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or load(Settings)  # type: ignore[assignment]
    kit = ServiceKit(
        settings,
        repositories={"messages": repository.MongoMessageRepository},
        indexes=[repository.ensure_indexes],
        clock=clock,
    )
    consumers.register(kit)
    return kit.create_app(
        title="One Window — Notifications",
        description="Every step to the applicant's phone; staff tasks; partner-agency subscriptions.",
        routers=[api.router],
    )
