"""The service runtime: one composition for every service.

``ServiceKit[R]`` owns the broker, the Mongo client (created in the lifespan), the typed
unit of work over the service's repositories ``R`` with its outbox relay, the timer
sweeper and any other background :class:`~servicekit.worker.Worker`; ``create_app``
builds the FastAPI app with problem+json errors, ``/healthz``, ``/readyz``, tracing and
the typed dependencies the routes declare (:class:`Provide`)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar, cast

import pymongo
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from contracts import Event, topic_for
from servicekit.aggregate import ConcurrentUpdate
from servicekit.auth import TokenVerifier
from servicekit.clock import Clock, SystemClock
from servicekit.config import ServiceSettings
from servicekit.idempotency import IdempotencyStore
from servicekit.idempotency import ensure_indexes as ensure_idempotency_indexes
from servicekit.idempotency import install as install_idempotency
from servicekit.limits import RequestLimits
from servicekit.messaging import (
    DeadLetters,
    OutboxRelay,
    make_broker,
    subscribe,
    subscribe_batch,
    subscribe_many,
    subscribe_many_batch,
)
from servicekit.metrics import Metrics
from servicekit.mongo import ensure_kit_indexes, make_client
from servicekit.openapi import document_problems
from servicekit.ops import Status, ops_router
from servicekit.opsstatus import BrokerStatus, BrokerView, DeadLetterSummary
from servicekit.outbox import Backlog, Republished, backlog, republish
from servicekit.problems import install_problem_handlers, problem_response
from servicekit.telemetry import current_trace_id, in_fresh_context, setup_logging, setup_tracing
from servicekit.timers import Sweeper, Timer, TimerStore
from servicekit.topics import ensure_topics
from servicekit.unavailable import is_unavailable
from servicekit.uow import Bind, MongoUnitOfWork
from servicekit.worker import Worker

log = logging.getLogger(__name__)

IndexBuilder = Callable[[AsyncDatabase], Awaitable[None]]
Hook = Callable[["ServiceKit[Any]"], Awaitable[None]]
R = TypeVar("R")
T = TypeVar("T")
E = TypeVar("E", bound=Event)


class Provide(Generic[T]):
    """A typed FastAPI dependency bound by the composition root, instead of reading
    ``app.state`` in routes::

        projects = Provide[Projects]("projects")                 # api.py
        UseCases = Annotated[Projects, Depends(projects)]
        kit.create_app(..., provide={api.projects: use_cases})   # bootstrap.py
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, request: Request) -> T:
        provided: dict[Provide[Any], Any] = request.app.state.provided
        if self not in provided:
            raise RuntimeError(f"{self.name} was not provided by the composition root")
        return cast(T, provided[self])

    def __repr__(self) -> str:
        return f"Provide({self.name!r})"


class _App(FastAPI):
    """Every HTTP request starts from an empty trace context, outside every middleware
    (OpenTelemetry's included): see :func:`servicekit.telemetry.in_fresh_context`."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await in_fresh_context(scope, lambda: super(_App, self).__call__(scope, receive, send))


class ServiceKit(Generic[R]):
    def __init__(
        self,
        settings: ServiceSettings,
        *,
        bind: Bind[R],
        indexes: Sequence[IndexBuilder] = (),
        clock: Clock | None = None,
        timer_handler: Callable[[Any, Timer], Awaitable[None]] | None = None,
    ) -> None:
        """``bind(db, session)`` builds the service's repositories ``R`` (typed: the use
        cases get ``kit.uow``, a ``UnitOfWork[R]``). ``timer_handler(tx, timer)`` runs for
        each due timer, exactly once, inside the sweeper's transaction."""
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        setup_logging(settings.service_name, settings.log_level)
        setup_tracing(settings.service_name, settings.otel_exporter)
        self.metrics = Metrics(settings.service_name)
        self.broker = make_broker(settings, [self.metrics.kafka])
        self.dead_letters = DeadLetters(self.broker, settings.service_name, prefix=settings.kafka_topic_prefix,
                                        on_dead_letter=lambda topic: self.metrics.dead_lettered.labels(topic).inc())
        self.consumer_groups: dict[str, list[str]] = {}  # group → topics (GET /ops/status: their lag)
        self.broker_status = BrokerStatus(settings.kafka_bootstrap_servers, self.dead_letters.topic,
                                          lambda: self.consumer_groups, cache_seconds=settings.ops_status_cache_seconds,
                                          per_partition=settings.ops_status_dead_letters_per_partition)
        self.timer_handler = timer_handler
        self.sweeper: Sweeper | None = None
        self.indexes = [ensure_idempotency_indexes, *indexes]
        self.on_start: list[Hook] = []
        self.on_stop: list[Hook] = []
        self.workers: list[Worker] = []
        self._client: Any = None
        self._db: AsyncDatabase | None = None
        self.relay: OutboxRelay | None = None
        self._uow = MongoUnitOfWork(bind, on_commit=self._notify_relay, conflict_attempts=settings.conflict_attempts,
                                    transaction_seconds=settings.transaction_seconds,
                                    marker_retention=timedelta(hours=settings.marker_retention_hours))
        self.started = False

    def _notify_relay(self) -> None:
        if self.relay is not None:
            self.relay.notify()

    # -- available once started ---------------------------------------------------
    @property
    def db(self) -> AsyncDatabase:
        if self._db is None:
            raise RuntimeError("service not started")
        return self._db

    @property
    def uow(self) -> MongoUnitOfWork[R]:
        """The typed unit of work (usable once started; composable before)."""
        return self._uow

    # -- consumers and workers ----------------------------------------------------
    def _group(self, group: str | None, event_classes: Sequence[type[Event]]) -> None:
        """Remember which topics ``group`` (default: the service's) consumes, for its lag."""
        prefix = self.settings.kafka_topic_prefix
        topics = self.consumer_groups.setdefault(group or prefix + self.settings.service_name, [])
        topics.extend(t for t in (prefix + topic_for(c).name for c in event_classes) if t not in topics)

    def subscribe(self, event_cls: type[E], handler: Callable[[E], Awaitable[Any]], *,
                  group: str | None = None, permanent: tuple[type[BaseException], ...] = ()) -> Any:
        """One event type, one handler call per event; an exception of a ``permanent`` type
        dead-letters the event at once (see :func:`servicekit.messaging.subscribe`)."""
        self._group(group, [event_cls])
        return subscribe(self.broker, self.settings, event_cls, handler, group=group, dead_letters=self.dead_letters,
                         permanent=permanent)

    def subscribe_many(self, event_classes: Sequence[type[Event]], handler: Callable[[Any], Awaitable[Any]], *,
                       group: str | None = None, permanent: tuple[type[BaseException], ...] = ()) -> Any:
        """Many event types (topics) through one consumer, parsed by ``ce_type``."""
        self._group(group, event_classes)
        return subscribe_many(self.broker, self.settings, event_classes, handler, group=group,
                              dead_letters=self.dead_letters, permanent=permanent)

    def subscribe_batch(self, event_cls: type[E], handler: Callable[[list[E]], Awaitable[Mapping[int, str] | None]],
                        *, group: str | None = None) -> Any:
        """One event type, the events of one fetch per handler call (one transaction)."""
        self._group(group, [event_cls])
        return subscribe_batch(self.broker, self.settings, event_cls, handler, group=group,
                               dead_letters=self.dead_letters)

    def subscribe_many_batch(self, event_classes: Sequence[type[Event]],
                             handler: Callable[[list[Any]], Awaitable[Mapping[int, str] | None]], *,
                             group: str | None = None, max_records: int = 100) -> Any:
        """Many event types (topics) through one consumer, the events of one fetch per handler
        call (one transaction); ``{index: reason}`` returned are dead-lettered."""
        self._group(group, event_classes)
        return subscribe_many_batch(self.broker, self.settings, event_classes, handler, group=group,
                                    dead_letters=self.dead_letters, max_records=max_records)

    def add_worker(self, name: str, run_once: Callable[[], Awaitable[int]], *, interval: float,
                   batch: int | None = None) -> Worker:
        """A background loop of the service, started after the broker and stopped before
        the kit's own (see :class:`~servicekit.worker.Worker`)."""
        worker = Worker(name, run_once, interval=interval, batch=batch)
        self.workers.append(worker)
        return worker

    # -- lifecycle ----------------------------------------------------------------
    async def start(self) -> None:
        t0 = time.perf_counter()
        self._client = make_client(self.settings.mongodb_uri)
        self._db = self._client[self.settings.database_name]
        await ensure_kit_indexes(self._db)
        for build in self.indexes:
            await build(self._db)
        self.relay = OutboxRelay(self._db, self.broker, poll_seconds=self.settings.outbox_poll_seconds,
                                 on_published=self.metrics.outbox_published.inc,
                                 linger_seconds=self.settings.outbox_linger_seconds, client=self._client,
                                 retention=timedelta(hours=self.settings.outbox_retention_hours),
                                 cleanup_seconds=self.settings.outbox_cleanup_seconds,
                                 catchup_grace=timedelta(seconds=self.settings.outbox_catchup_grace_seconds),
                                 topic_prefix=self.settings.kafka_topic_prefix,
                                 record_seconds=self.settings.outbox_record_seconds)
        self._uow.attach(self._client, self._db)
        if self.settings.kafka_create_topics:
            await ensure_topics(self.settings.kafka_bootstrap_servers, prefix=self.settings.kafka_topic_prefix)
        await self.broker.start()
        self.relay.worker.start()
        self.relay.cleaner.start()
        if self.timer_handler is not None:
            store = TimerStore(self._db)
            await store.ensure_indexes()
            handler, uow = self.timer_handler, self.uow

            async def fire(timer: Timer, session: Any) -> None:
                await uow.within(session, lambda tx: handler(tx, timer))

            # the relay is woken once the fired timers' transactions have committed
            self.sweeper = Sweeper(store, fire, clock=self.clock, interval=self.settings.sweep_interval_seconds,
                                   after_fired=lambda _n: self._notify_relay())
            self.sweeper.start()
        for hook in self.on_start:
            await hook(self)
        for worker in self.workers:
            worker.start()
        self.started = True
        log.info("%s started in %.2fs", self.settings.service_name, time.perf_counter() - t0)

    async def stop(self) -> None:
        t0 = time.perf_counter()
        self.started = False
        for worker in reversed(self.workers):
            await worker.stop()
        for hook in reversed(self.on_stop):
            try:
                await hook(self)
            except Exception:
                log.exception("stop hook failed")
        if self.sweeper:
            await self.sweeper.stop()
        log.debug("sweeper stopped at %.2fs", time.perf_counter() - t0)
        if self.relay:
            await self.relay.cleaner.stop()
            await self.relay.worker.stop()
            await self.relay.close()
        log.debug("relay stopped at %.2fs", time.perf_counter() - t0)
        try:
            await asyncio.wait_for(self.broker.stop(), timeout=10)
        except Exception:
            log.exception("broker did not stop cleanly")
        if self._client is not None:
            await self._client.close()
        log.info("%s stopped in %.2fs", self.settings.service_name, time.perf_counter() - t0)

    async def republish(self, *, since: datetime, until: datetime | None = None, topic: str | None = None,
                        limit: int = 10_000) -> Republished:
        """Publish the retained outbox rows created in ``[since, until)`` again (see
        :func:`servicekit.outbox.republish`); served to operators at ``POST /ops/outbox/republish``."""
        return await republish(self.db, self.broker, since=since, until=until, topic=topic, limit=limit,
                               prefix=self.settings.kafka_topic_prefix)

    async def status(self) -> Status:
        """What operators watch (``GET /ops/status``): readiness, the outbox's backlog, the
        dead letters by reason and the consumers' lag. What could not be read is named in
        ``errors`` (the broker part then is the last one read, or empty)."""
        checks = await self.readiness() if self.started else {"broker": False, "database": False}
        errors = [f"{k}: {v}" for k, v in checks.items() if k.endswith("_error")]
        try:
            outbox = await backlog(self.db)
        except Exception as exc:  # the database is away: say so rather than fail the whole page
            outbox = Backlog(0, None, 0)
            errors.append(f"outbox: {type(exc).__name__}: {exc}")
        try:
            view = await self.broker_status.view()
        except Exception as exc:
            view = BrokerView(DeadLetterSummary(self.dead_letters.topic), [])
            errors.append(f"dead letters and lag: {type(exc).__name__}: {exc}")
        return Status(self.settings.service_name, datetime.now(UTC), checks.get("broker") is True,
                      checks.get("database") is True, outbox, view, errors)

    async def readiness(self) -> dict[str, Any]:
        checks: dict[str, Any] = {}
        try:
            checks["broker"] = bool(await self.broker.ping(timeout=2))
        except Exception as exc:
            checks["broker"] = False
            checks["broker_error"] = str(exc)
        try:
            await asyncio.wait_for(self.db.client.admin.command("ping"), timeout=2)
            checks["database"] = True
        except Exception as exc:
            checks["database"] = False
            checks["database_error"] = str(exc)
        return checks

    # -- HTTP ---------------------------------------------------------------------
    def create_app(
        self,
        *,
        title: str,
        description: str,
        routers: Sequence[APIRouter],
        domain_errors: Mapping[type[Exception], int] | None = None,
        provide: Mapping[Provide[Any], Any] | None = None,
        version: str = "0.1.0",
    ) -> FastAPI:
        """``provide`` binds each :class:`Provide` dependency the routes declare to its
        object (use cases, policies); ``domain_errors`` maps exceptions to 4xx statuses
        (a :class:`~servicekit.aggregate.ConcurrentUpdate` is always 409)."""
        kit = self

        @asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            await kit.start()
            try:
                yield
            finally:
                await kit.stop()

        app = _App(title=title, description=description, version=version, lifespan=lifespan)
        app.state.kit = self
        app.state.provided = dict(provide or {})
        app.state.token_verifier = TokenVerifier(self.settings)
        install_problem_handlers(app, domain_errors)

        @app.exception_handler(ConcurrentUpdate)
        async def conflict(request: Request, exc: ConcurrentUpdate) -> JSONResponse:
            log.info("conflict on %s after the retries: %s", request.url.path, exc)
            resp = problem_response(request, 409, detail="someone else changed it at the same time; try again",
                                    code="ConcurrentUpdate")
            resp.headers["Retry-After"] = "1"
            return resp
        install_idempotency(app, IdempotencyStore(
            lambda: kit.db, retention=timedelta(hours=self.settings.idempotency_retention_hours),
            lock=timedelta(seconds=self.settings.idempotency_lock_seconds)))

        @app.exception_handler(PyMongoError)
        async def unavailable(request: Request, exc: PyMongoError) -> JSONResponse:
            if not is_unavailable(exc):
                log.exception("database error on %s", request.url.path)
                return problem_response(request, 500)
            log.warning("database unavailable on %s: %s", request.url.path, type(exc).__name__)
            resp = problem_response(request, 503, detail="the database did not answer in time; try again shortly")
            resp.headers["Retry-After"] = str(kit.settings.retry_after_seconds)
            return resp

        @app.middleware("http")
        async def trace_header(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
            with pymongo.timeout(kit.settings.http_db_seconds):  # every database call of the request, together
                response = await call_next(request)
            trace_id = current_trace_id()
            if trace_id:
                response.headers["X-Trace-Id"] = trace_id
            return response

        health = APIRouter(tags=["health"])

        failing: dict[int | str, dict[str, Any]] = {503: {"description": "Failing (or not started): the same body, `status` says which"}}

        @health.get("/healthz", summary="Liveness", responses=failing)
        async def healthz() -> JSONResponse:
            loops = [kit.relay.worker, kit.relay.cleaner] if kit.relay else []
            loops += [kit.sweeper.worker] if kit.sweeper else []
            ok = kit.started and bool(loops) and all(w.running for w in [*loops, *kit.workers])
            return JSONResponse({"status": "ok" if ok else "failing"}, status_code=200 if ok else 503)

        @health.get("/readyz", summary="Readiness: broker and database answer", responses=failing)
        async def readyz() -> JSONResponse:
            checks = await kit.readiness() if kit.started else {"started": False}
            ok = kit.started and checks.get("broker") is True and checks.get("database") is True
            return JSONResponse({"status": "ready" if ok else "not ready", **checks}, status_code=200 if ok else 503)

        app.include_router(health)
        ops = ops_router(self.republish, self.status)
        app.include_router(ops)

        async def refresh_gauges() -> None:
            if kit.started and kit.relay is not None:
                self.metrics.outbox_pending.set(await kit.relay.pending())

        self.metrics.install(app, refresh_gauges)
        for r in routers:
            app.include_router(r)
        kit_paths = {getattr(r, "path", None) for r in [*health.routes, *ops.routes]}
        domain_statuses = {409, *(domain_errors or {}).values()}

        def openapi() -> dict[str, Any]:
            if app.openapi_schema is None:  # every error documented as problem+json (servicekit.openapi)
                app.openapi_schema = document_problems(app, FastAPI.openapi(app), domain_statuses, kit_paths)
            return app.openapi_schema

        app.openapi = openapi  # type: ignore[method-assign]
        FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz")
        # outermost of the app's middleware: an oversized request is refused before anything reads it
        app.add_middleware(RequestLimits, max_body=self.settings.max_body_bytes,
                           max_target=self.settings.max_target_bytes)
        return app
