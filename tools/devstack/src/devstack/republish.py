"""``python -m devstack republish --service S --since T [--until T2] [--topic X]``: publish a
service's retained outbox rows of a time range again, in order, with their original
``ce_id``, key and headers — what ``POST /ops/outbox/republish`` does on a running service,
here straight from its database to the broker, so it works whether the service runs or not.

Consumers are idempotent on ``ce_id``: rows they already handled have no second effect,
rows the broker lost are handled now. Times are ISO 8601 with an offset
(``2026-11-27T10:00+08:00``, ``2026-11-27T02:00Z``) or a duration ago (``90s``, ``15m``,
``2h``, ``1d``)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from contracts.topics import TOPICS
from devstack import catalog
from servicekit.config import ServiceSettings, load
from servicekit.messaging import make_broker
from servicekit.mongo import make_client
from servicekit.outbox import Republished, republish

_AGO = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_time(text: str, now: datetime | None = None) -> datetime:
    """An ISO 8601 time with a UTC offset, or a duration before ``now`` (``15m``, ``2h``, ``1d``)."""
    text = text.strip()
    ago = _AGO.match(text)
    if ago:
        return (now or datetime.now(UTC)) - timedelta(**{_UNITS[ago.group(2)]: float(ago.group(1))})
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is neither an ISO 8601 time nor a duration like 15m, 2h, 1d") from None
    if value.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset: add one (+08:00 for Beijing time, Z for UTC)")
    return value.astimezone(UTC)


def database_of(service: str) -> str:
    """The service's database: its name, unless ``<PREFIX>MONGODB_DATABASE`` names another."""
    return os.environ.get(f"{catalog.get(service).env_prefix}MONGODB_DATABASE") or service


async def run(service: str, *, since: datetime, until: datetime | None, topic: str | None, mongodb_uri: str,
              bootstrap: str, database: str | None = None, page: int = 10_000,
              say: Callable[[str], object] = print) -> int:
    """Publish the range again, ``page`` rows at a time, until it is done; returns how many rows."""
    if service not in catalog.names():
        raise ValueError(f"no service {service!r}; the services are {', '.join(catalog.names())}")
    if topic is not None and topic not in {t.name for t in TOPICS}:
        raise ValueError(f"{topic!r} is not a topic of the registry")
    if until is not None and until <= since:
        raise ValueError("--until must be after --since")
    settings = load(ServiceSettings, service_name=f"{service}-republish", kafka_bootstrap_servers=bootstrap)
    client = make_client(mongodb_uri)
    broker = make_broker(settings)
    await broker.start()
    total = 0
    try:
        db = client[database or database_of(service)]
        start: datetime | None = since
        while start is not None:
            done: Republished = await republish(db, broker, since=start, until=until, topic=topic, limit=page)
            total += done.published
            if done.published:
                say(f"  {done.published} rows from {done.first.created_at.isoformat() if done.first else '?'} "
                    f"to {done.last.created_at.isoformat() if done.last else '?'}")
            start = done.next_since if done.more else None
    finally:
        await broker.stop()
        await client.close()
    return total


__all__ = ["database_of", "parse_time", "run"]
