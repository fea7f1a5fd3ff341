"""Event factories, publishing and reading back for tests: one of each."""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

from contracts import Event, topic_for
from contracts.events.registration import ApplicationSubmittedV1
from tests.infra import Infra
from tests.support.kafka import produce, read_all

E = TypeVar("E", bound=Event)
SOURCES = {"registration": "/one-window/registration", "departments": "/one-window/departments"}


def make(cls: type[E], case: str, *, source: str = "/one-window/registration", **fields: Any) -> E:
    """An event of ``cls`` about ``case`` with a valid envelope."""
    return cls(source=source, subject=case, case_number=case, **fields)


def submitted(case: str = "C-1", **fields: Any) -> ApplicationSubmittedV1:
    """A valid :class:`ApplicationSubmittedV1` about ``case``: the sample event of the kit's and the
    contracts' tests (``fields`` override its data or ``source``)."""
    data: dict[str, Any] = {"application_id": case, "company_name": "兰州一窗科技有限公司", "applicant_id": "u-1",
                            "channel": "web"}
    return make(ApplicationSubmittedV1, case, **(data | fields))


def _bootstrap(to: str | Infra) -> str:
    return to.kafka_bootstrap if isinstance(to, Infra) else to


async def publish(to: str | Infra, *events: Event) -> None:
    """Each event to its registry topic, in binary mode, keyed by its case (``to``: the broker's
    bootstrap address or the session's :class:`Infra`)."""
    for e in events:
        body, headers = e.to_wire()
        await produce(_bootstrap(to), topic_for(e).name, body, headers, e.case_number)


def publish_sync(to: str | Infra, *events: Event) -> None:
    """:func:`publish` from synchronous code (e2e)."""
    asyncio.run(publish(to, *events))


async def read_events(to: str | Infra, cls: type[E], case: str | None = None) -> list[E]:
    """Every ``cls`` event now on its topic (only ``case``'s when given), decoded; one case's in log order."""
    records = await read_all(_bootstrap(to), topic_for(cls).name)
    return [cls.from_wire(r.value, dict(r.headers)) for r in records if case is None or r.key == case.encode()]


def read_events_sync(to: str | Infra, cls: type[E], case: str | None = None) -> list[E]:
    """:func:`read_events` from synchronous code (e2e)."""
    return asyncio.run(read_events(to, cls, case))
