"""Domain events to integration events: one typed table per service, checked at import.

A service's domain records :class:`~servicekit.aggregate.DomainEvent` dataclasses; its
``service`` module declares once which versioned contract event each one becomes::

    EVENTS = EventMap("/one-window/<service>", {
        StepApproved: ev.StepApprovedV1,
        CaseCompleted: ev.CaseCompletedV1,
    })
    tx.emit(EVENTS.to_events(case.pull_events(), subject=case.case_number, now=now,
                             correlation_id=case.correlation_id, cause=event))

Building the table fails at import when a domain event has a field its contract event
lacks, or the contract event requires a field the domain event does not carry; an event
kind missing from the table fails when it is first emitted, naming it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from contracts import ENVELOPE_FIELDS, Event, topic_for
from servicekit.aggregate import Aggregate, DomainEvent


class EventMap:
    def __init__(self, source: str, table: Mapping[type[DomainEvent], type[Event]]) -> None:
        self.source = source
        self.table = dict(table)
        for fact, event in self.table.items():
            _check_pair(fact, event)

    def to_event(self, fact: DomainEvent, *, subject: str, now: datetime, correlation_id: str,
                 cause: Event | None = None) -> Event:
        cls = self.table.get(type(fact))
        if cls is None:
            raise LookupError(f"{type(fact).__name__} has no contract event in the EventMap of {self.source}")
        data = {f.name: getattr(fact, f.name) for f in dataclasses.fields(fact)}
        return cls(**data, source=self.source, subject=subject, case_number=subject, time=now,
                   correlation_id=cause.correlation_id if cause else correlation_id,
                   causation_id=cause.event_id if cause else None)

    def to_events(self, facts: Iterable[DomainEvent], *, subject: str, now: datetime, correlation_id: str,
                  cause: Event | None = None) -> list[Event]:
        """Each fact as its contract event, in order, with the envelope (and the cause's
        correlation and causation ids when an event caused them)."""
        return [self.to_event(f, subject=subject, now=now, correlation_id=correlation_id, cause=cause)
                for f in facts]


def number(events: Sequence[Event], aggregate: Aggregate) -> list[Event]:
    """Give the events of sequenced topics (``TopicSpec.sequenced``) their case's next
    ``case_seq``, in order, from the aggregate's own counter (``event_seq``), which its
    repository saves with it: no other write. Call it before the aggregate is saved. A
    service whose repository does not keep ``event_seq`` leaves the numbering to the unit
    of work (one counter document per case)."""
    numbered = []
    for e in events:
        if e.case_seq is None and topic_for(e).sequenced:
            aggregate.event_seq += 1
            e = e.model_copy(update={"case_seq": aggregate.event_seq})
        numbered.append(e)
    return numbered


def _check_pair(fact: type[DomainEvent], event: type[Event]) -> None:
    if not (dataclasses.is_dataclass(fact) and issubclass(fact, DomainEvent)):
        raise TypeError(f"{fact!r} is not a DomainEvent dataclass")
    have = {f.name for f in dataclasses.fields(fact)}
    fields: dict[str, Any] = event.model_fields
    unknown = have - set(fields)
    if unknown:
        raise TypeError(f"{fact.__name__} has fields {sorted(unknown)} that {event.__name__} does not declare")
    required = {n for n, f in fields.items() if f.is_required()} - set(ENVELOPE_FIELDS)
    missing = required - have
    if missing:
        raise TypeError(f"{event.__name__} requires {sorted(missing)}, which {fact.__name__} does not carry")


__all__ = ["EventMap", "number"]
