"""Composition root: settings → rules and policies → kit (telemetry, broker, Mongo in the
lifespan) → subscriber, delivery runtime (providers, webhook sender, pollers) → routes."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from notifications import api, consumers, repository
from notifications.config import Settings
from notifications.domain import (
    Channel,
    DomainError,
    InvalidRequest,
    InvalidTransition,
    NotFound,
    QuietHours,
    RetryPolicy,
    Rules,
    WebhookPolicy,
    default_catalog,
)
from notifications.workers import Runtime
from servicekit.app import ServiceKit
from servicekit.clock import Clock
from servicekit.config import load


def rules_from(settings: Settings) -> Rules:
    return Rules(
        catalog=default_catalog(settings.template_versions),
        retry=RetryPolicy(max_attempts=settings.delivery_max_attempts,
                          base_seconds=settings.delivery_backoff_base_seconds,
                          cap_seconds=settings.delivery_backoff_cap_seconds,
                          attempts_per_provider=settings.delivery_attempts_per_provider,
                          claim_seconds=settings.delivery_claim_seconds),
        default_channels=tuple(Channel(c) for c in settings.default_channels),
        default_quiet_hours=QuietHours.parse(settings.default_quiet_hours),
    )


def webhook_policy_from(settings: Settings) -> WebhookPolicy:
    return WebhookPolicy(schedule_seconds=tuple(settings.webhook_retry_schedule_seconds),
                         jitter=settings.webhook_jitter,
                         max_retry_after_seconds=settings.webhook_max_retry_after_seconds,
                         claim_seconds=settings.webhook_claim_seconds, timeout_seconds=settings.webhook_timeout_seconds)


def create_app(settings: Settings | None = None, clock: Clock | None = None,
               transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    """``transport`` replaces the network for the providers and webhooks (tests)."""
    settings = settings or load(Settings)  # type: ignore[assignment]
    rules = rules_from(settings)
    kit = ServiceKit(settings, repositories=repository.REPOSITORIES, indexes=[repository.ensure_indexes], clock=clock)
    runtime = Runtime(kit, settings, rules, webhook_policy_from(settings), transport)
    consumers.register(kit, rules=rules, wake=runtime.wake)
    kit.on_start.append(runtime.start)
    kit.on_stop.append(runtime.stop)
    app = kit.create_app(
        title="One Window — Notifications",
        description="Every step to the applicant's phone (SMS, app push, WeChat, email); staff tasks; "
                    "partner-agency subscriptions with signed webhooks and a replay feed.",
        routers=api.routers,
        domain_errors={NotFound: 404, InvalidRequest: 422, InvalidTransition: 409, DomainError: 409},
    )
    app.state.notifications = runtime
    return app
