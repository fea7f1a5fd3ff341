"""Event factories and publishing for tests: one of each."""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

from contracts import Event, topic_for
from tests.support.kafka import produce

E = TypeVar("E", bound=Event)
SOURCES = {"registration": "/one-window/registration", "departments": "/one-window/departments"}


def make(cls: type[E], case: str, *, source: str = "/one-window/registration", **fields: Any) -> E:
    """An event of ``cls`` about ``case`` with a valid envelope."""
    return cls(source=source, subject=case, case_number=case, **fields)


async def publish(bootstrap: str, *events: Event) -> None:
    """Each event to its registry topic, in binary mode, keyed by its case."""
    for e in events:
        body, headers = e.to_wire()
        await produce(bootstrap, topic_for(e).name, body, headers, e.case_number)


def publish_sync(bootstrap: str, *events: Event) -> None:
    asyncio.run(publish(bootstrap, *events))
