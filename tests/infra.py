"""Real servers for the test session.

Order: the environment (`KAFKA_BOOTSTRAP_SERVERS` and `MONGODB_URI`) when set;
otherwise testcontainers (Apache Kafka in KRaft mode, MongoDB as a single-node replica
set) when a Docker engine answers; otherwise the embedded servers (Apache Kafka in KRaft
mode from `make install`'s jars, SecantusDB; `DEVSTACK_BROKER=tansu`: Tansu).
If none can start, the session fails with the reason: no tier is skipped silently.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Infra:
    kafka_bootstrap: str
    mongodb_uri: str
    kind: str  # "environment" | "testcontainers" | "embedded"
    client_env: dict[str, str] = field(default_factory=dict)  # what the broker needs of clients

    @property
    def consumer_env(self) -> dict[str, str]:
        """Client settings suited to the broker. The embedded broker allows the services'
        2 s session (group.min.session.timeout.ms in config/kafka/server.properties); a
        broker with the defaults rejects sessions under 6 s."""
        if self.kind == "embedded":
            return {"KAFKA_SESSION_TIMEOUT_MS": "2000", "KAFKA_HEARTBEAT_INTERVAL_MS": "200", **self.client_env}
        return {"KAFKA_SESSION_TIMEOUT_MS": "10000", "KAFKA_HEARTBEAT_INTERVAL_MS": "1000", **self.client_env}


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
        return True
    except Exception:
        return False


@contextlib.contextmanager
def _testcontainers() -> Iterator[Infra]:
    from testcontainers.kafka import KafkaContainer
    from testcontainers.mongodb import MongoDbContainer

    kafka = KafkaContainer("confluentinc/cp-kafka:7.6.0").with_kraft()
    mongo = MongoDbContainer("mongo:7.0").with_command("--replSet rs0 --bind_ip_all")
    with kafka, mongo:
        host = mongo.get_container_host_ip()
        port = mongo.get_exposed_port(27017)
        mongo.exec(
            "mongosh --quiet --eval "
            f"\"rs.initiate({{_id:'rs0',members:[{{_id:0,host:'{host}:{port}'}}]}})\""
        )
        uri = f"mongodb://{mongo.username}:{mongo.password}@{host}:{port}/?directConnection=true"
        yield Infra(kafka.get_bootstrap_server(), uri, "testcontainers")


@contextlib.contextmanager
def real_servers() -> Iterator[Infra]:
    kafka, mongo = os.environ.get("KAFKA_BOOTSTRAP_SERVERS"), os.environ.get("MONGODB_URI")
    if kafka and mongo:
        yield Infra(kafka, mongo, "environment")
        return
    if _docker_answers():
        with _testcontainers() as infra:
            yield infra
        return
    from devstack.servers import start_embedded

    servers = start_embedded()
    try:
        yield Infra(servers.kafka_bootstrap, servers.mongodb_uri, "embedded", servers.client_env)
    finally:
        servers.stop()
