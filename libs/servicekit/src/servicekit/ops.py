"""The operator API every service gets from the kit (``/ops``, operator role only).

``POST /ops/outbox/republish`` publishes again the service's retained outbox rows of a time
range (:func:`servicekit.outbox.republish`): after a broker lost acknowledged events, an
operator replays them; consumers are idempotent on ``ce_id``, so what they already handled
has no second effect."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from contracts.topics import TOPICS
from servicekit.auth import Principal, Role, require
from servicekit.idempotency import Once
from servicekit.outbox import Republished

log = logging.getLogger(__name__)
Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
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


def ops_router(republish: Republish) -> APIRouter:
    """The ``/ops`` routes over the kit's ``republish(since=, until=, topic=, limit=)``."""
    router = APIRouter(prefix="/ops", tags=["operations"])

    @router.post("/outbox/republish", response_model=RepublishOut,
                 summary="Publish the retained outbox rows of a time range again (operators)")
    async def republish_outbox(body: RepublishIn, who: Operator, once: Once) -> RepublishOut:
        """Publishes again, in order and with the same `ce_id`, key and headers, the outbox rows
        the service created in the range (kept for its retention period). Safe to repeat:
        consumers are idempotent on `ce_id`."""
        return await once(_logged(who, body, lambda: republish(since=body.since, until=body.until, topic=_name(body.topic),
                                                               limit=body.limit)), _out)

    return router


__all__ = ["RepublishIn", "RepublishOut", "ops_router"]
