"""What counts as "the database (or the broker) is unavailable right now": a stall or an
outage, not a bad request or a bad event. Such a failure is answered 503 with
Retry-After over HTTP, and a consumer does not dead-letter the event: it leaves the offset
uncommitted, backs off and reads it again."""

from __future__ import annotations

from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from pymongo.errors import AutoReconnect, ConnectionFailure, ExecutionTimeout, NetworkTimeout, WaitQueueTimeoutError

UNAVAILABLE: tuple[type[BaseException], ...] = (
    ExecutionTimeout,  # the client-side operation timeout ran out (a stalled database)
    NetworkTimeout,
    AutoReconnect,
    ConnectionFailure,  # includes ServerSelectionTimeoutError
    WaitQueueTimeoutError,
    KafkaConnectionError,
    KafkaTimeoutError,
    TimeoutError,
)


def is_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) says the infrastructure is away, not the input wrong."""
    seen = 0
    cur: BaseException | None = exc
    while cur is not None and seen < 5:
        if isinstance(cur, UNAVAILABLE):
            return True
        cur, seen = cur.__cause__, seen + 1
    return False


__all__ = ["UNAVAILABLE", "is_unavailable"]
