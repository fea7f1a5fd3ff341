"""The operator API every service gets from the kit (``/ops``).

``GET /ops/status`` (operators and supervisors) says how the service is: readiness, the
outbox's backlog (:func:`servicekit.outbox.backlog`), its dead letters by reason and its
consumer groups' lag (:mod:`servicekit.opsstatus`, read at most every 10 s).

``POST /ops/outbox/republish`` publishes again the service's retained outbox rows of a time
range (:func:`servicekit.outbox.republish`): after a broker lost acknowledged events, an
operator replays them; consumers are idempotent on ``ce_id``, so what they already handled
has no second effect."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from contracts.topics import TOPICS
from servicekit.auth import Principal, Role, require
from servicekit.idempotency import Once
from servicekit.opsstatus import BrokerView
from servicekit.outbox import Backlog, Republished

log = logging.getLogger(__name__)
Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
Watching = Annotated[Principal, Depends(require(Role.OPERATOR, Role.SUPERVISOR))]
Republish = Callable[..., Awaitable[Republished]]
# the registry's topics, as an enum: the API document lists them, and validation refuses others
RegistryTopic = StrEnum("RegistryTopic", {t.name: t.name for t in TOPICS})  # type: ignore[misc]


class RepublishIn(BaseModel):
    """Which retained outbox rows to publish again: created in ``[since, until)``, of ``topic`` if given."""

    model_config = ConfigDict(extra="forbid")

    since: AwareDatetime = Field(description="From this time (inclusive; with a UTC offset).")
    until: AwareDatetime | None = Field(default=None, description="Up to this time (exclusive); default: now.")
    topic: RegistryTopic | None = Field(default=None, description="Only this topic (of the registry).")
    limit: int = Field(default=10_000, ge=1, le=100_000,
                       description="At most this many events; when more remain, `next_since` says where to go on.")

    @field_validator("since", "until")
    @classmethod
    def _in_utc(cls, at: datetime | None) -> datetime | None:
        """In UTC; a time whose offset takes it outside years 1-9999 is the first or last instant."""
        if at is None:
            return None
        try:
            return at.astimezone(UTC)
        except OverflowError:
            return datetime.min.replace(tzinfo=UTC) if at.year == 1 else datetime.max.replace(tzinfo=UTC)

    @field_validator("until")
    @classmethod
    def _after_since(cls, until: datetime | None, info: ValidationInfo) -> datetime | None:
        since = info.data.get("since")
        if until is not None and since is not None and until <= since:
            raise PydanticCustomError("range_order", "must be after since")
        return until


class RepublishOut(BaseModel):
    published: int = Field(description="Events published again (each acknowledged by the broker), in order.")
    more: bool = Field(description="Rows of the range remain (the limit was reached).")
    next_since: datetime | None = Field(default=None, description="Where to go on when `more`.")
    first_event_id: str | None = Field(default=None, description="ce_id of the first event published.")
    last_event_id: str | None = Field(default=None, description="ce_id of the last event published.")


async def _logged(who: Principal, body: RepublishIn, run: Callable[[], Awaitable[Republished]]) -> Republished:
    done = await run()  # created only here: a refusal before the call leaves no coroutine unawaited
    log.warning("operator %s republished %d outbox rows from %s (until %s, topic %s)", who.sub, done.published,
                body.since.isoformat(), body.until.isoformat() if body.until else "now", body.topic or "all")
    return done


def _name(topic: RegistryTopic | None) -> str | None:
    return None if topic is None else str(topic.value)


def _out(done: Republished) -> RepublishOut:
    return RepublishOut(published=done.published, more=done.more, next_since=done.next_since,
                        first_event_id=done.first.id if done.first else None,
                        last_event_id=done.last.id if done.last else None)


@dataclass(frozen=True)
class Status:
    """What :meth:`servicekit.app.ServiceKit.status` found."""

    service: str
    checked_at: datetime
    broker_ready: bool
    database_ready: bool
    outbox: Backlog
    broker: BrokerView
    errors: list[str] = field(default_factory=list)


class ReadyOut(BaseModel):
    broker: bool = Field(description="The broker answered a ping.")
    database: bool = Field(description="The database answered a ping.")


class OutboxOut(BaseModel):
    pending: int = Field(description="Events the relay has not published yet (in rows after its recorded watermark).")
    oldest_pending_age_seconds: float | None = Field(description="Age of the oldest of them (null: none pending).")
    retained: int = Field(description="Outbox rows kept (one per transaction, published or not) for republishing.")


class ReasonOut(BaseModel):
    source_topic: str = Field(description="Where the dead-lettered message came from.")
    reason: str = Field(description="Why it could not be handled (the `dlq_reason` header).")
    count: int
    last_at: datetime = Field(description="When the last one of them was dead-lettered.")


class DeadLetterOut(BaseModel):
    source_topic: str
    reason: str
    at: datetime
    key: str | None = Field(description="The message's key (a case number, usually).")


class DeadLettersOut(BaseModel):
    topic: str = Field(description="The service's dead-letter topic.")
    total: int = Field(description="Dead letters counted (the newest 10,000 per partition at most).")
    by_reason: list[ReasonOut] = Field(description="Counts by source topic and reason, the most frequent first "
                                                   "(at most 100).")
    recent: list[DeadLetterOut] = Field(description="The newest 20, newest first.")


class LagOut(BaseModel):
    group: str = Field(description="A consumer group of the service.")
    topic: str
    lag: int = Field(description="Records not yet committed by the group (end offsets minus committed offsets).")


class StatusOut(BaseModel):
    service: str
    checked_at: datetime
    ready: ReadyOut
    outbox: OutboxOut
    dead_letters: DeadLettersOut
    consumers: list[LagOut]
    errors: list[str] = Field(default_factory=list, description="What could not be read (then the dead letters and "
                                                                "lag are the last ones read, or empty).")

    @classmethod
    def of(cls, s: Status) -> StatusOut:
        dl, ob = s.broker.dead_letters, s.outbox
        age = (s.checked_at - ob.oldest_pending_at).total_seconds() if ob.oldest_pending_at else None
        return cls(
            service=s.service, checked_at=s.checked_at,
            ready=ReadyOut(broker=s.broker_ready, database=s.database_ready),
            outbox=OutboxOut(pending=ob.pending, oldest_pending_age_seconds=None if age is None else max(0.0, age),
                             retained=ob.retained),
            dead_letters=DeadLettersOut(
                topic=dl.topic, total=dl.total,
                by_reason=[ReasonOut(source_topic=r.source_topic, reason=r.reason, count=r.count, last_at=r.last_at)
                           for r in dl.by_reason],
                recent=[DeadLetterOut(source_topic=d.source_topic, reason=d.reason, at=d.at, key=d.key)
                        for d in dl.recent]),
            consumers=[LagOut(group=c.group, topic=c.topic, lag=c.lag) for c in s.broker.consumers],
            errors=s.errors)


def ops_router(republish: Republish, status: Callable[[], Awaitable[Status]] | None = None) -> APIRouter:
    """The ``/ops`` routes over the kit's ``republish(since=, until=, topic=, limit=)`` and ``status()``."""
    router = APIRouter(prefix="/ops", tags=["operations"])

    if status is not None:
        read_status = status

        @router.get("/status", response_model=StatusOut,
                    summary="Readiness, outbox backlog, dead letters by reason, consumer lag (operators, supervisors)")
        async def service_status(who: Watching) -> StatusOut:
            """The dead letters and the lag are read from the broker at most every
            `ops_status_cache_seconds` (10 s): refreshing more often shows the same figures."""
            return StatusOut.of(await read_status())

    @router.post("/outbox/republish", response_model=RepublishOut,
                 summary="Publish the retained outbox rows of a time range again (operators)")
    async def republish_outbox(body: RepublishIn, who: Operator, once: Once) -> RepublishOut:
        """Publishes again, in order and with the same `ce_id`, key and headers, the outbox rows
        the service created in the range (kept for its retention period). Safe to repeat:
        consumers are idempotent on `ce_id`."""
        return await once(_logged(who, body, lambda: republish(since=body.since, until=body.until, topic=_name(body.topic),
                                                               limit=body.limit)), _out)

    return router


__all__ = ["RepublishIn", "RepublishOut", "Status", "StatusOut", "ops_router"]
