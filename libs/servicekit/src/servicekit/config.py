"""Settings base: each service subclasses it with its own env prefix.

Shared infrastructure variables (``KAFKA_BOOTSTRAP_SERVERS``, ``MONGODB_URI``, ...) are
honoured unprefixed; a service-prefixed one (``REGISTRATION_MONGODB_URI``) wins.
"""

from __future__ import annotations

import os
from typing import Any, TypeVar

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

_SHARED = {
    "kafka_bootstrap_servers": "KAFKA_BOOTSTRAP_SERVERS",
    "kafka_enable_idempotence": "KAFKA_ENABLE_IDEMPOTENCE",
    "kafka_session_timeout_ms": "KAFKA_SESSION_TIMEOUT_MS",
    "kafka_heartbeat_interval_ms": "KAFKA_HEARTBEAT_INTERVAL_MS",
    "kafka_fetch_max_wait_ms": "KAFKA_FETCH_MAX_WAIT_MS",
    "kafka_create_topics": "KAFKA_CREATE_TOPICS",
    "mongodb_uri": "MONGODB_URI",
    "jwt_secret": "JWT_SECRET",
    "otel_exporter": "OTEL_EXPORTER",
    "log_level": "LOG_LEVEL",
    "calendar_override_dir": "CALENDAR_OVERRIDE_DIR",
}


class ServiceSettings(BaseSettings):
    """Common settings. Subclass and set ``model_config = service_config("REGISTRATION_")``."""

    model_config = SettingsConfigDict(extra="ignore")

    service_name: str = "service"
    host: str = "127.0.0.1"
    port: int = 8000
    kafka_bootstrap_servers: str = "127.0.0.1:19092"
    kafka_enable_idempotence: bool = Field(
        default=True, description="Producer idempotence (with acks=all). Off only for a broker that "
        "cannot do it (Tansu: DEVSTACK_BROKER=tansu sets KAFKA_ENABLE_IDEMPOTENCE=false)."
    )
    # Short, for fast group joins and failover on the embedded broker (which allows them:
    # group.min.session.timeout.ms=500 in config/kafka/server.properties). A broker with
    # the defaults rejects session timeouts under group.min.session.timeout.ms (6 s).
    kafka_session_timeout_ms: int = 2000
    kafka_heartbeat_interval_ms: int = 200
    kafka_fetch_max_wait_ms: int = 50
    kafka_create_topics: bool = Field(default=True, description="Create missing registry topics at start.")
    mongodb_uri: str = "mongodb://127.0.0.1:27018/?directConnection=true"
    mongodb_database: str = ""
    jwt_secret: str = "one-window-dev-secret-change-me-0123456789"
    jwt_audience: str = "one-window"
    otel_exporter: str = Field(default="none", description="none | console | otlp")
    log_level: str = "INFO"
    calendar_override_dir: str = ""
    outbound_allow: list[str] = Field(default=[], description="Development/test only: hosts (`host`, `host:port`) "
                                      "or networks (CIDR) that requests to URLs others named (webhooks) may reach "
                                      "although they are not public (servicekit.outbound). Empty in production.")
    outbox_poll_seconds: float = 0.5
    outbox_linger_seconds: float = 0.01  # after a wake-up, gather commits for this long before relaying
    outbox_retention_hours: float = Field(default=7 * 24.0, gt=0, description="Published outbox rows are kept this "
                                          "long (to be published again: POST /ops/outbox/republish), then deleted.")
    outbox_cleanup_seconds: float = Field(default=60.0, gt=0, description="How often the relay deletes rows past "
                                          "retention (behind its watermark only).")
    outbox_catchup_grace_seconds: float = Field(default=120.0, ge=0, description="When the relay cannot resume its "
                                                "change stream, it publishes again the rows created this long before "
                                                "its watermark (longer than any transaction).")
    sweep_interval_seconds: float = 5.0
    consumer_max_attempts: int = 3
    unavailable_backoff_seconds: float = Field(default=2.0, description="A consumer whose database or broker is "
                                               "away waits this long before the event is read again.")
    conflict_attempts: int = Field(default=3, description="Runs of a use case on a version conflict before 409.")
    http_db_seconds: float = Field(default=2.0, description="Time the database calls of one HTTP request may take "
                                   "together; past it the request answers 503 with Retry-After.")
    retry_after_seconds: int = 2
    transaction_seconds: float = Field(default=10.0, description="Time a transaction may take, driver retries "
                                       "of write conflicts included (client-side operation timeout).")
    idempotency_retention_hours: float = Field(default=24.0, description="How long an Idempotency-Key's first "
                                               "answer is kept for retries (TTL: housekeeping only).")
    max_body_bytes: int = Field(default=256 * 1024, gt=0, description="Largest request body accepted (also when "
                                "streamed without Content-Length); larger is 413 problem+json.")
    max_target_bytes: int = Field(default=8 * 1024, gt=0, description="Longest request target (path and query) "
                                  "accepted; longer is 414 problem+json.")
    idempotency_lock_seconds: float = Field(default=30.0, description="How long a request holds its "
                                            "Idempotency-Key before a retry may take it over (its holder died).")

    @property
    def database_name(self) -> str:
        return self.mongodb_database or self.service_name


def service_config(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix=prefix, extra="ignore")


S = TypeVar("S", bound=ServiceSettings)


def load(cls: type[S], **overrides: Any) -> S:
    """Instantiate settings: ``overrides`` > prefixed env > unprefixed shared env > defaults."""
    prefix = cls.model_config.get("env_prefix", "") or ""
    shared: dict[str, Any] = {}
    for field, var in _SHARED.items():
        if (prefix + var) not in os.environ and f"{prefix}{field}".upper() not in os.environ and var in os.environ:
            shared[field] = os.environ[var]
    shared.update(overrides)
    return cls(**shared)


__all__ = ["ServiceSettings", "load", "service_config"]
