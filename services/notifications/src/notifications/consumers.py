"""Thin FastStream subscriber: one consumer over every topic this service consumes
(one group member joins faster than one per topic), one service call per event."""

from __future__ import annotations

from collections.abc import Callable

from contracts import TOPICS, Event
from notifications import service
from notifications.domain import Rules, TemplateError
from servicekit.app import ServiceKit
from servicekit.messaging import PermanentFailure, subscribe_many
from servicekit.telemetry import current_trace_id

CONSUMED: tuple[type[Event], ...] = tuple(t.event for t in TOPICS if service.CONSUMER in t.consumers)


def register(kit: ServiceKit, *, rules: Rules, wake: Callable[[], None]) -> None:
    async def on_event(event: Event) -> None:
        """Tell applicants, staff and subscribed partner agencies about a registration event."""
        try:
            await service.handle_event(event, uow=kit.uow, rules=rules, now=kit.clock.now(),
                                       trace_id=current_trace_id())
        except TemplateError as exc:  # retrying cannot fix a template: dead-letter it with the reason
            raise PermanentFailure(str(exc)) from exc
        wake()

    subscribe_many(kit.broker, kit.settings, CONSUMED, on_event, dead_letters=kit.dead_letters)
