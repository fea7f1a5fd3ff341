"""Composition root: settings → the kit (broker, database, unit of work) → keys, outbound policy
and client → use cases → the delivery worker, the subscriber, the routes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from crossregion import api, consumers
from crossregion.config import Settings
from crossregion.domain import Backoff, DomainError, InvalidState, NotAgreed, NotAllowed, NotFound
from crossregion.exchange_http import HttpSender
from crossregion.repository import MongoRepositories, ensure_indexes
from crossregion.service import Cases, Delivery, Inbound, Regions
from crossregion.signatures import Keyring, Verifier
from servicekit.app import ServiceKit
from servicekit.clock import Clock
from servicekit.config import load
from servicekit.outbound import OutboundPolicy, Resolver
from servicekit.outbound_http import outbound_client


def create_app(settings: Settings | None = None, clock: Clock | None = None,
               transport: httpx.AsyncBaseTransport | None = None, resolver: Resolver | None = None) -> FastAPI:
    """``transport`` replaces the network to partner regions, ``resolver`` the DNS (tests)."""
    s = settings or load(Settings)
    kit = ServiceKit(s, bind=MongoRepositories.bind, indexes=[ensure_indexes], clock=clock)
    keyring = Keyring([tuple(k.split(":", 1)) for k in s.signing_keys])  # type: ignore[misc]
    # partners' endpoints are named by operators: the outbound policy (SSRF) judges them at
    # registration and at every request
    outbound = OutboundPolicy.of(allow_http=s.exchange_allow_http, allow=s.outbound_allow, resolver=resolver)
    http = outbound_client(outbound, timeout=s.exchange_timeout_seconds, inner=transport)

    async def close_http(_: ServiceKit[Any]) -> None:
        await http.aclose()

    kit.on_stop.append(close_http)
    max_age = timedelta(seconds=s.exchange_max_age_seconds)
    delivery = Delivery(uow=kit.uow, clock=kit.clock, signer=keyring, sender=HttpSender(http), here=s.region_code,
                        backoff=Backoff(s.delivery_backoff_base_seconds, s.delivery_backoff_cap_seconds),
                        expires_in=max_age, batch=s.delivery_batch)
    worker = kit.add_worker("exchange-delivery", delivery.run_once, interval=s.delivery_poll_seconds,
                            batch=s.delivery_batch)
    retention = timedelta(hours=s.delivery_retention_hours)

    async def housekeeping() -> int:
        await delivery.forget_delivered(retention)
        return 0

    kit.add_worker("exchange-housekeeping", housekeeping, interval=300)
    inbound = Inbound(uow=kit.uow, clock=kit.clock, here=s.region_code, here_name=s.region_name,
                      verifier=Verifier(max_age=max_age, skew=timedelta(seconds=s.exchange_clock_skew_seconds)))
    kit.uow.on_commit = _chain(kit.uow.on_commit, worker.notify)  # a commit may have queued an exchange
    consumers.register(kit, inbound)
    return kit.create_app(
        title=api.TITLE, description=api.DESCRIPTION, routers=[api.router],
        domain_errors={NotFound: 404, NotAllowed: 403, InvalidState: 409, NotAgreed: 422, DomainError: 422},
        provide={
            api.regions_uc: Regions(uow=kit.uow, clock=kit.clock, check_url=outbound.refusal,
                                    our_keys=keyring.public_keys()),
            api.cases_uc: Cases(uow=kit.uow, clock=kit.clock, here=s.region_code, here_name=s.region_name),
            api.inbound_uc: inbound,
            api.delivery_uc: delivery,
        })


def _chain(first: Any, then: Any) -> Any:
    def both() -> None:
        if first is not None:
            first()
        then()

    return both
