"""Thin FastStream subscriber: one consumer over every topic this service consumes
(one group member joins faster than one per topic), one use-case call per fetch."""

from __future__ import annotations

from typing import Any

from contracts import TOPICS, Event
from notifications.service import CONSUMER, Inbound
from servicekit.app import ServiceKit

CONSUMED: tuple[type[Event], ...] = tuple(t.event for t in TOPICS if CONSUMER in t.consumers)


def register(kit: ServiceKit[Any], inbound: Inbound, *, max_records: int = 200) -> None:
    # Tell applicants, staff and subscribed partner agencies about the events of each fetch,
    # in one transaction; an event the domain refuses (a template it fails) is dead-lettered
    # with the reason.
    kit.subscribe_many_batch(CONSUMED, inbound.handle_many, max_records=max_records)
