"""Create every topic of the registry, idempotently, against any Kafka-compatible broker.

Used by the embedded stack (each service waits for this before it starts) and by the
Kubernetes topic Job (``python -m devstack topics --replication-factor 3
--min-insync-replicas 2``) against Apache Kafka.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from contracts.topics import all_topic_names

TOPIC_ALREADY_EXISTS = 36


@dataclass(frozen=True)
class TopicResult:
    name: str
    partitions: int
    status: str  # "created" | "exists"
    actual_partitions: int | None = None


class TopicError(RuntimeError):
    pass


async def _ensure_once(
    bootstrap: str,
    topics: dict[str, int],
    replication_factor: int,
    configs: dict[str, str],
    request_timeout_ms: int,
) -> list[TopicResult]:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=request_timeout_ms)
    await admin.start()
    try:
        response = await admin.create_topics(
            [NewTopic(name, partitions, replication_factor, topic_configs=dict(configs))
             for name, partitions in topics.items()]
        )
        results: list[TopicResult] = []
        failures: list[str] = []
        existing: list[str] = []
        for entry in response.topic_errors:
            name, code = entry[0], entry[1]
            message = entry[2] if len(entry) > 2 else None
            if code == 0:
                results.append(TopicResult(name, topics[name], "created"))
            elif code == TOPIC_ALREADY_EXISTS:
                existing.append(name)
            else:
                failures.append(f"{name}: error {code} {message or ''}".strip())
        if failures:
            raise TopicError("could not create topics: " + "; ".join(failures))
        if existing:
            described = await admin.describe_topics(existing)
            actual = {d["topic"]: len(d["partitions"]) for d in described}
            results += [TopicResult(n, topics[n], "exists", actual.get(n)) for n in existing]
        return sorted(results, key=lambda r: r.name)
    finally:
        await admin.close()


async def ensure_topics(
    bootstrap: str,
    topics: dict[str, int] | None = None,
    *,
    replication_factor: int = 1,
    min_insync_replicas: int | None = None,
    timeout: float = 30.0,
) -> list[TopicResult]:
    """Create the topics that do not exist yet; retry while the broker is unreachable."""
    topics = dict(all_topic_names() if topics is None else topics)
    configs = {} if min_insync_replicas is None else {"min.insync.replicas": str(min_insync_replicas)}
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            return await _ensure_once(bootstrap, topics, replication_factor, configs, 10_000)
        except TopicError:
            raise  # the broker answered and refused: retrying will not help
        except Exception as exc:  # connection refused, metadata not ready, ...
            last = exc
            await asyncio.sleep(0.5)
    raise TopicError(f"broker {bootstrap} did not accept the topics within {timeout:.0f}s: {last!r}")


def ensure_topics_sync(bootstrap: str, **kwargs: object) -> list[TopicResult]:
    return asyncio.run(ensure_topics(bootstrap, **kwargs))  # type: ignore[arg-type]
