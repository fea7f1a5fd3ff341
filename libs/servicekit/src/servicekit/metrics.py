"""Basic metrics in Prometheus format: HTTP requests, Kafka messages (FastStream's
middleware), the outbox backlog and dead-lettered messages. One registry per service."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        self.kafka = KafkaPrometheusMiddleware(registry=self.registry, app_name=service, metrics_prefix="one_window")
        self.http_requests = Counter("one_window_http_requests_total", "HTTP requests", ["method", "route", "status"],
                                     registry=self.registry)
        self.http_seconds = Histogram("one_window_http_request_seconds", "HTTP request latency", ["method", "route"],
                                      registry=self.registry)
        self.outbox_pending = Gauge("one_window_outbox_pending", "Outbox events not yet published",
                                    registry=self.registry)
        self.outbox_published = Counter("one_window_outbox_published_total", "Outbox events published",
                                        registry=self.registry)
        self.dead_lettered = Counter("one_window_dead_lettered_total", "Messages sent to the dead-letter topic",
                                     ["topic"], registry=self.registry)
        self.provisional_deadlines = Counter(
            "one_window_provisional_deadlines_total",
            "Deadlines counted through a year whose holiday schedule is not known (add config/calendar/CN-<year>.toml)",
            ["year"], registry=self.registry)

    def install(self, app: FastAPI, refresh: Callable[[], Awaitable[None]]) -> None:
        """Count every request (by route template) and serve ``/metrics``."""

        @app.middleware("http")
        async def _count(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
            t0 = time.perf_counter()
            response = await call_next(request)
            route = getattr(request.scope.get("route"), "path", "unmatched")
            if route not in ("/metrics", "/healthz", "/readyz"):
                self.http_requests.labels(request.method, route, str(response.status_code)).inc()
                self.http_seconds.labels(request.method, route).observe(time.perf_counter() - t0)
            return response

        @app.get("/metrics", include_in_schema=False)
        async def metrics() -> Response:
            await refresh()
            return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)
