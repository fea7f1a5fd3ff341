"""OpenTelemetry tracing and structured, masked logging.

One trace follows a case from the HTTP request through the outbox (the request's
``traceparent`` is stored with each outbox row), Kafka (``traceparent`` header) and
the consumer's database writes.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
from pythonjsonlogger.json import JsonFormatter

from servicekit.masking import mask_personal_data as mask_personal_data  # re-exported


def setup_tracing(service_name: str, exporter: str = "none") -> None:
    """Install the SDK tracer provider once per process (tests may install their own first)."""
    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if exporter == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter(out=sys.stderr)))
    elif exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)


def current_traceparent() -> str | None:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


def current_trace_id() -> str | None:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None


@contextmanager
def attached(traceparent: str | None) -> Iterator[None]:
    """Run a block inside the trace context carried by a ``traceparent`` string."""
    if not traceparent:
        yield
        return
    token = otel_context.attach(propagate.extract({"traceparent": traceparent}))
    try:
        yield
    finally:
        otel_context.detach(token)


async def in_fresh_context(scope: Any, call: Any) -> None:
    """Run one ASGI request from an EMPTY trace context (``call()`` is the app).

    uvicorn reads a kept-open connection from a callback registered while the previous
    request's task ran (``transport.resume_reading()`` inside that task, cpython#140947),
    so the next request's task is created in a copy of the previous request's context,
    current span included. OpenTelemetry's ASGI middleware then extracts an absent
    ``traceparent`` *onto that context* and the new request becomes a child of the last
    one: same trace id. Starting every request from an empty context gives a request
    without ``traceparent`` a new trace and one with a valid ``traceparent`` that trace,
    whatever server runs the app."""
    if scope.get("type") not in ("http", "websocket"):
        await call()
        return
    token = otel_context.attach(otel_context.Context())
    try:
        await call()
    finally:
        otel_context.detach(token)


# A batch consumer handles the events of many journeys in one call and one transaction;
# each event it consumed keeps its own trace: what it causes is written to the outbox with
# the consumed event's ``traceparent`` (see :func:`cause_traces`), not the batch's.
_cause_traces: ContextVar[Mapping[str, str] | None] = ContextVar("cause_traces", default=None)


@contextmanager
def cause_traces(by_event_id: Mapping[str, str]) -> Iterator[None]:
    """Within the block, an event caused by one of these events (its ``causation_id``)
    is stored with that event's ``traceparent``."""
    token = _cause_traces.set(by_event_id)
    try:
        yield
    finally:
        _cause_traces.reset(token)


def traceparent_for(causation_id: str | None, default: str | None) -> str | None:
    """The trace an emitted event continues: its cause's, if a batch consumer recorded one."""
    causes = _cause_traces.get()
    if causes and causation_id and causation_id in causes:
        return causes[causation_id]
    return default


def trace_id_for(event_id: str, default: str | None) -> str | None:
    """The trace id an event handled in a batch continues (its ``traceparent``'s), else ``default``."""
    parts = (traceparent_for(event_id, None) or "").split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else default


def link_to(traceparent: str | None) -> trace.Link | None:
    """A span link to the context a ``traceparent`` names (None if it names none)."""
    if not traceparent:
        return None
    ctx = trace.get_current_span(propagate.extract({"traceparent": traceparent})).get_span_context()
    return trace.Link(ctx) if ctx.is_valid else None


def tracer(name: str = "one-window") -> trace.Tracer:
    return trace.get_tracer(name)


class _ContextFilter(logging.Filter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        span = trace.get_current_span().get_span_context()
        record.trace_id = format(span.trace_id, "032x") if span.is_valid else None
        record.span_id = format(span.span_id, "016x") if span.is_valid else None
        record.service = self.service
        return True


class RepeatFilter(logging.Filter):
    """Lets a warning or error through at most once per ``every`` seconds per message
    template (logger and format string), with the count held back since; a failure that
    repeats (a broker away, a message that keeps failing) fills no disk."""

    def __init__(self, every: float = 30.0) -> None:
        super().__init__()
        self.every = every
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, str(record.msg)[:200])
        now = time.monotonic()
        last, held = self._seen.get(key, (-self.every, 0))
        if now - last < self.every:
            self._seen[key] = (last, held + 1)
            return False
        if len(self._seen) > 1000:  # templates, not values: stays small; bounded anyway
            self._seen.clear()
        self._seen[key] = (now, 0)
        if held:
            record.msg = f"{record.msg} (and {held} more like it in the last {now - last:.0f}s)"
        return True


class MaskingJsonFormatter(JsonFormatter):
    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return {k: mask_personal_data(v) if isinstance(v, str) else v for k, v in log_data.items()}


def setup_logging(service_name: str, level: str = "INFO") -> None:
    """JSON logs on stderr with trace ids; ID and phone numbers masked."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_ContextFilter(service_name))
    handler.setFormatter(
        MaskingJsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(service)s %(trace_id)s %(span_id)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    )
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_one_window", False):
            root.removeHandler(h)
    handler._one_window = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):  # one format for every line
        uv = logging.getLogger(name)
        uv.handlers.clear()
        uv.propagate = True
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("pymongo").setLevel(max(logging.WARNING, root.level))
