"""Composition root. The service's domain is not built yet (its issue is pending):
it runs the kit (health, readiness, broker, database) so the platform's shape is whole."""

from __future__ import annotations

from fastapi import FastAPI

from crossregion.config import Settings
from servicekit.app import ServiceKit
from servicekit.clock import Clock
from servicekit.config import load


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or load(Settings)  # type: ignore[assignment]
    kit = ServiceKit(settings, clock=clock)
    return kit.create_app(
        title="One Window — Cross-region joint processing (跨省通办 / 省内通办)",
        description="Adapters bridging this city's bus to other regions' platforms.",
        routers=[],
    )
