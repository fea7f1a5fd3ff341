"""Create the registry's topics with their partition counts (idempotent)."""

from __future__ import annotations

import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from contracts.topics import all_topic_names

log = logging.getLogger(__name__)


async def ensure_topics(bootstrap: str, names: dict[str, int] | None = None, replication: int = 1,
                        prefix: str = "") -> list[str]:
    """Create missing topics (each name after ``prefix``); returns the names created."""
    wanted = {prefix + n: p for n, p in (names if names is not None else all_topic_names()).items()}
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="one-window-topics")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(n, num_partitions=p, replication_factor=replication)
                   for n, p in wanted.items() if n not in existing]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass
            log.info("created topics %s", [t.name for t in missing])
        return [t.name for t in missing]
    finally:
        await admin.close()
