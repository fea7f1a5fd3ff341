"""Composition root. The service's domain is not built yet (its issue is pending):
it runs the kit (health, readiness, broker, database) so the platform's shape is whole."""

from __future__ import annotations

from fastapi import FastAPI

from approvals.config import Settings
from servicekit.app import ServiceKit
from servicekit.clock import Clock
from servicekit.config import load


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or load(Settings)  # type: ignore[assignment]
    kit = ServiceKit(settings, clock=clock)
    return kit.create_app(
        title="One Window — Construction project approvals (工程建设项目审批)",
        description="Four stages with parallel department review and one-window issuance.",
        routers=[],
    )
