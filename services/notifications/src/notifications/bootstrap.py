"""Composition root: settings → rules and policies → kit (telemetry, broker, Mongo in the
lifespan) → adapters (providers and webhook sender over one HTTP client, closed with the
kit) → use cases → the two dispatchers (kit workers), the subscriber, the routes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from notifications import api, consumers
from notifications.config import Settings
from notifications.domain import (
    Channel,
    DomainError,
    Forbidden,
    InvalidRequest,
    InvalidTransition,
    NotFound,
    QuietHours,
    RetryPolicy,
    Rules,
    WebhookPolicy,
    default_catalog,
)
from notifications.providers import ProviderDirectory
from notifications.repository import MongoRepositories, ensure_indexes
from notifications.service import Directory, Inbound, MessageDispatch, Messages, Partners, WebhookDispatch
from notifications.webhooks import HttpWebhookSender, new_secret
from servicekit.app import ServiceKit
from servicekit.clock import Clock
from servicekit.config import load
from servicekit.outbound import OutboundPolicy, Resolver
from servicekit.outbound_http import outbound_client
from servicekit.readcache import ReadCache
from servicekit.telemetry import current_trace_id, trace_id_for


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
        order_hold=timedelta(seconds=settings.order_hold_seconds),
    )


def webhook_policy_from(settings: Settings) -> WebhookPolicy:
    return WebhookPolicy(schedule_seconds=tuple(settings.webhook_retry_schedule_seconds),
                         jitter=settings.webhook_jitter,
                         max_retry_after_seconds=settings.webhook_max_retry_after_seconds,
                         claim_seconds=settings.webhook_claim_seconds, timeout_seconds=settings.webhook_timeout_seconds)


def http_client(settings: Settings, transport: httpx.AsyncBaseTransport | None) -> httpx.AsyncClient:
    """One client (pool) for the providers and the webhooks; it binds to the event loop
    only when first used."""
    return httpx.AsyncClient(transport=transport, follow_redirects=False,
                             timeout=httpx.Timeout(settings.provider_timeout_seconds),
                             limits=httpx.Limits(max_connections=max(settings.delivery_concurrency,
                                                                     settings.webhook_concurrency) * 2))


def create_app(settings: Settings | None = None, clock: Clock | None = None,
               transport: httpx.AsyncBaseTransport | None = None, resolver: Resolver | None = None) -> FastAPI:
    """``transport`` replaces the network for the providers and webhooks, ``resolver`` the
    DNS for webhook hosts (tests)."""
    s = settings or load(Settings)
    rules = rules_from(s)
    kit = ServiceKit(s, bind=MongoRepositories.bind, indexes=[ensure_indexes], clock=clock)
    uow, clock = kit.uow, kit.clock
    http = http_client(s, transport)
    # webhook URLs are named by partner agencies: their own client, policy enforced (SSRF)
    outbound = OutboundPolicy.of(allow_http=s.webhook_allow_http, allow=s.outbound_allow, resolver=resolver)
    webhook_http = outbound_client(outbound, timeout=s.webhook_timeout_seconds, inner=transport,
                                   max_connections=s.webhook_concurrency * 2)

    async def close_http(_: ServiceKit[Any]) -> None:
        await http.aclose()
        await webhook_http.aclose()

    kit.on_stop.append(close_http)  # after the workers have stopped
    # subscriptions, agencies, contacts and staff groups kept across fetches; this process's own
    # writes drop them at once, other replicas' writes are seen within directory_cache_seconds
    directory: Directory = ReadCache(s.directory_cache_seconds)
    message_dispatch = MessageDispatch(uow=uow, rules=rules, clock=clock, providers=ProviderDirectory(s, http),
                                       batch=s.delivery_batch, concurrency=s.delivery_concurrency)
    webhook_dispatch = WebhookDispatch(
        uow=uow, clock=clock, sender=HttpWebhookSender(webhook_http, timeout=s.webhook_timeout_seconds),
        policy=webhook_policy_from(s), batch=s.webhook_batch, concurrency=s.webhook_concurrency,
        on_change=directory.bump)
    dispatchers = [
        kit.add_worker("message-dispatcher", message_dispatch.run_once, interval=s.delivery_poll_seconds,
                       batch=s.delivery_batch),
        kit.add_worker("webhook-dispatcher", webhook_dispatch.run_once, interval=s.webhook_poll_seconds,
                       batch=s.webhook_batch),
    ]

    def wake_dispatchers() -> None:
        for worker in dispatchers:
            worker.notify()

    inbound = Inbound(uow=uow, rules=rules, clock=clock, trace_id=current_trace_id, on_new_work=wake_dispatchers,
                      event_trace=trace_id_for, hand_over=message_dispatch.take, directory=directory,
                      hand_over_deliveries=webhook_dispatch.take,
                      delivery_claim=timedelta(seconds=s.webhook_claim_seconds))
    consumers.register(kit, inbound, max_records=s.consume_batch)
    kit.add_worker("order-holds", inbound.release_held, interval=s.order_sweep_seconds)
    return kit.create_app(
        title="One Window — Notifications",
        description="Every step to the applicant's phone (SMS, app push, WeChat, email); staff tasks; "
                    "partner-agency subscriptions with signed webhooks and a replay feed.",
        routers=api.routers,
        domain_errors={NotFound: 404, Forbidden: 403, InvalidRequest: 422, InvalidTransition: 409, DomainError: 409},
        provide={
            api.messages_use_cases: Messages(uow=uow, clock=clock, on_change=directory.bump),
            api.partner_use_cases: Partners(uow=uow, clock=clock, new_secret=new_secret,
                                            outbound=outbound,
                                            feed_settle=timedelta(seconds=s.feed_settle_seconds),
                                            on_change=directory.bump),
        },
    )
