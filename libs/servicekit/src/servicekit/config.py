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
    "kafka_metadata_max_age_ms": "KAFKA_METADATA_MAX_AGE_MS",
    "kafka_create_topics": "KAFKA_CREATE_TOPICS",
    "kafka_topic_prefix": "KAFKA_TOPIC_PREFIX",
    "mongodb_uri": "MONGODB_URI",
    "jwt_issuer": "JWT_ISSUER",
    "jwt_audience": "JWT_AUDIENCE",
    "jwt_jwks_url": "JWT_JWKS_URL",
    "jwt_algorithms": "JWT_ALGORITHMS",
    "jwt_leeway_seconds": "JWT_LEEWAY_SECONDS",
    "jwt_max_lifetime_seconds": "JWT_MAX_LIFETIME_SECONDS",
    "jwt_jwks_cache_seconds": "JWT_JWKS_CACHE_SECONDS",
    "jwt_jwks_refetch_seconds": "JWT_JWKS_REFETCH_SECONDS",
    "jwt_role_claim": "JWT_ROLE_CLAIM",
    "jwt_department_claim": "JWT_DEPARTMENT_CLAIM",
    "jwt_agency_claim": "JWT_AGENCY_CLAIM",
    "jwt_name_claim": "JWT_NAME_CLAIM",
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
    kafka_metadata_max_age_ms: int = Field(default=10_000, ge=1000, description="Metadata is refreshed at least "
                                           "this often. A group's leader that assigned partitions while the broker "
                                           "came back without a topic's metadata leaves that topic's subscriber "
                                           "with nothing until the next refresh triggers a rebalance: with the "
                                           "client default (5 min) a service stopped consuming a topic for 5 "
                                           "minutes after a broker pause (decision 67).")
    kafka_batch_timeout_ms: int = Field(default=20, ge=1, le=1000, description="A batch consumer waits this long "
                                        "for records when none are buffered, and as long again after an empty "
                                        "wait (FastStream's default, 200, put up to 400 ms on each hop).")
    kafka_create_topics: bool = Field(default=True, description="Create missing registry topics at start.")
    kafka_topic_prefix: str = Field(default="", pattern=r"^[a-z0-9-]*\.?$", max_length=40, description="Prefixed "
                                    "to every topic and consumer group (`regionb.`): several platforms (regions) "
                                    "on one broker, kept apart. Empty: the registry's names.")
    mongodb_uri: str = "mongodb://127.0.0.1:27018/?directConnection=true"
    mongodb_database: str = ""
    # Bearer tokens: signed by an identity provider (OIDC), verified against its published
    # keys (JWKS). No service holds a signing key. docs/identity-provider.md.
    jwt_issuer: str = Field(default="http://127.0.0.1:8099", description="The `iss` every token must carry, "
                            "exactly (an OIDC provider's issuer URL). Default: the development issuer of `make run`.")
    jwt_audience: str = Field(default="one-window", description="The `aud` every token must carry.")
    jwt_jwks_url: str = Field(default="", description="The issuer's JWKS (http/https). Empty: found by OIDC "
                              "discovery at <jwt_issuer>/.well-known/openid-configuration (`jwks_uri`).")
    jwt_algorithms: str = Field(default="ES256", description="Accepted `alg`s, comma-separated; asymmetric "
                                "only (ES256, ES384, RS256, PS256 ...): `none` and HS* are refused at start.")
    jwt_leeway_seconds: float = Field(default=60.0, ge=0, le=300, description="Clock skew allowed for "
                                      "`exp`, `nbf` and `iat`.")
    jwt_max_lifetime_seconds: float = Field(default=12 * 3600.0, gt=0, description="Longest lifetime a token "
                                            "may claim (`exp - iat`).")
    jwt_jwks_cache_seconds: float = Field(default=300.0, gt=0, description="The keys are fetched again after this.")
    jwt_jwks_refetch_seconds: float = Field(default=30.0, ge=0, description="A token with an unknown `kid` "
                                            "fetches the keys again at most this often (key rotation).")
    jwt_role_claim: str = Field(default="role", description="Claim holding the role (a dotted path for "
                                "a nested claim, e.g. `one_window.role`).")
    jwt_department_claim: str = "department"
    jwt_agency_claim: str = "agency_id"
    jwt_name_claim: str = "name"
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
    ops_status_cache_seconds: float = Field(default=10.0, ge=0, le=300, description="GET /ops/status reads the "
                                            "dead-letter topic and consumer lag at most once per this period.")
    ops_status_dead_letters_per_partition: int = Field(default=10_000, ge=1, le=1_000_000, description="GET "
                                                       "/ops/status counts the newest this many dead letters per partition.")
    marker_retention_hours: float = Field(default=14 * 24.0, gt=0, description="Processed-event markers (idempotent "
                                          "consumers) expire after this (TTL index); keep it above the outbox's "
                                          "retention plus the broker's, so that a republished event is recognised.")
    outbox_record_seconds: float = Field(default=1.0, ge=0, le=60, description="While events keep coming, the "
                                         "relay records how far it published at most this often (one write); a "
                                         "crash publishes at most this long of events again (same ce_id).")
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
