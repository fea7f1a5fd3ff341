"""Thin FastStream subscriber: one consumer over every topic this service consumes
(one group member joins faster than one per topic), one use-case call per event."""

from __future__ import annotations

from typing import Any

from contracts import TOPICS, Event
from notifications.domain import TemplateError
from notifications.service import CONSUMER, Inbound
from servicekit.app import ServiceKit
from servicekit.messaging import PermanentFailure

CONSUMED: tuple[type[Event], ...] = tuple(t.event for t in TOPICS if CONSUMER in t.consumers)


def register(kit: ServiceKit[Any], inbound: Inbound) -> None:
    async def on_event(event: Event) -> None:
        """Tell applicants, staff and subscribed partner agencies about a registration event."""
        try:
            await inbound.handle(event)
        except TemplateError as exc:  # retrying cannot fix a template: dead-letter it with the reason
            raise PermanentFailure(str(exc)) from exc

    kit.subscribe_many(CONSUMED, on_event)
