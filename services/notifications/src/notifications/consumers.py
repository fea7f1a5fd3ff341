"""Thin FastStream subscribers: one service call each."""

from __future__ import annotations

from contracts.events.registration import ApplicationSubmittedV1
from notifications import service
from servicekit.app import ServiceKit
from servicekit.telemetry import current_trace_id


def register(kit: ServiceKit) -> None:
    async def on_application_submitted(event: ApplicationSubmittedV1) -> None:
        """Tell the applicant their application was received."""
        await service.handle_event(event, uow=kit.uow, now=kit.clock.now(), trace_id=current_trace_id())

    kit.subscribe(ApplicationSubmittedV1, on_application_submitted)
