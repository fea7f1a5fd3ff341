"""Pure building blocks of a service's domain: domain events and versioned aggregates.

No I/O here: a service's ``domain`` may import this module (and only this one of the kit).

* :class:`DomainEvent` — a fact an aggregate records (a frozen dataclass per kind of fact).
  The service maps each kind to its versioned contract event once, with
  :class:`servicekit.events.EventMap`, which checks the fields at import.
* :class:`Aggregate` — the version used for optimistic concurrency and the list of
  events recorded since the aggregate was loaded.
* :class:`ConcurrentUpdate` — a repository could not save because someone else saved
  first. The unit of work retries the use case; HTTP answers 409 if it keeps happening.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, kw_only=True)
class DomainEvent:
    """Base of the facts an aggregate records. Subclass as a frozen, keyword-only dataclass
    whose field names are those of the contract event it becomes."""


class ConcurrentUpdate(Exception):
    """The stored version is not the one loaded: another writer saved first.

    Not a domain error: the unit of work runs the use case again on fresh state, and an
    API answers 409 (problem+json) only when the retries are spent."""


@dataclass(kw_only=True)
class Aggregate:
    """Mixin for versioned aggregates (dataclasses). ``version`` is the stored version the
    aggregate was loaded at; repositories save only if it is unchanged and bump it."""

    version: int = 0
    event_seq: int = field(default=0, compare=False)
    """The last ``case_seq`` its events were given (:func:`servicekit.events.number`), for a
    repository that saves it with the aggregate; 0 otherwise (the unit of work numbers them)."""
    _events: list[DomainEvent] = field(default_factory=list, repr=False, compare=False)

    def record(self, event: DomainEvent) -> None:
        self._events.append(event)

    def pull_events(self) -> list[DomainEvent]:
        """The events recorded since the last pull, oldest first (and forget them)."""
        events, self._events = self._events, []
        return events


__all__ = ["Aggregate", "ConcurrentUpdate", "DomainEvent"]
