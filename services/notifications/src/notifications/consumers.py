"""Thin FastStream subscriber: one consumer over every topic this service consumes
(one group member joins faster than one per topic), one use-case call per event."""

from __future__ import annotations

from typing import Any

from contracts import TOPICS, Event
from notifications.domain import TemplateError
from notifications.service import CONSUMER, Inbound
from servicekit.app import ServiceKit

CONSUMED: tuple[type[Event], ...] = tuple(t.event for t in TOPICS if CONSUMER in t.consumers)


def register(kit: ServiceKit[Any], inbound: Inbound) -> None:
    # Tell applicants, staff and subscribed partner agencies about each event; retrying
    # cannot fix a template, so an event it fails is dead-lettered at once with the reason.
    kit.subscribe_many(CONSUMED, inbound.handle, permanent=(TemplateError,))
