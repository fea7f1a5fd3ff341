"""The service template's pure pieces: the domain-event table, the background worker,
typed dependencies, optimistic-concurrency retries (with the shared fake unit of work)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI

from contracts.events.registration import ApplicationSubmittedV1
from servicekit.aggregate import Aggregate, ConcurrentUpdate, DomainEvent
from servicekit.app import Provide
from servicekit.events import EventMap
from servicekit.problems import install_problem_handlers
from servicekit.worker import Worker
from tests.support.fakes import FakeUnitOfWork

NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)


@dataclass(frozen=True, kw_only=True)
class Submitted(DomainEvent):
    application_id: str
    company_name: str
    applicant_id: str
    channel: str


@dataclass(frozen=True, kw_only=True)
class Misnamed(DomainEvent):
    application_id: str
    company_nam: str  # typo
    applicant_id: str
    channel: str


@dataclass(frozen=True, kw_only=True)
class Incomplete(DomainEvent):
    application_id: str


def test_event_map_builds_contract_events_with_the_envelope() -> None:
    events = EventMap("/one-window/test", {Submitted: ApplicationSubmittedV1})
    [e] = events.to_events([Submitted(application_id="QY1", company_name="兰州甲有限公司", applicant_id="u-1",
                                      channel="web")], subject="QY1", now=NOW, correlation_id="corr-1")
    assert isinstance(e, ApplicationSubmittedV1)
    assert (e.case_number, e.subject, e.source, e.time, e.correlation_id, e.causation_id) == (
        "QY1", "QY1", "/one-window/test", NOW, "corr-1", None)
    assert e.company_name == "兰州甲有限公司"
    [follow] = events.to_events([Submitted(application_id="QY1", company_name="x", applicant_id="u", channel="web")],
                                subject="QY1", now=NOW, correlation_id="ignored", cause=e)
    assert (follow.correlation_id, follow.causation_id) == ("corr-1", e.event_id)


def test_event_map_refuses_a_misnamed_field_at_construction() -> None:
    with pytest.raises(TypeError, match="company_nam"):
        EventMap("/t", {Misnamed: ApplicationSubmittedV1})


def test_event_map_refuses_a_domain_event_missing_a_required_field() -> None:
    with pytest.raises(TypeError, match="company_name"):
        EventMap("/t", {Incomplete: ApplicationSubmittedV1})


def test_event_map_names_an_event_kind_it_does_not_know() -> None:
    events = EventMap("/t", {Submitted: ApplicationSubmittedV1})
    with pytest.raises(LookupError, match="Incomplete"):
        events.to_events([Incomplete(application_id="QY1")], subject="QY1", now=NOW, correlation_id="c")


def test_aggregate_pulls_recorded_events_once() -> None:
    @dataclass
    class Thing(Aggregate):
        name: str = "x"

    t = Thing()
    t.record(Incomplete(application_id="1"))
    t.record(Incomplete(application_id="2"))
    assert [e.application_id for e in t.pull_events()] == ["1", "2"]  # type: ignore[attr-defined]
    assert t.pull_events() == []


# -- optimistic concurrency through the shared fake unit of work --------------------------
class Flaky:
    def __init__(self, conflicts: int) -> None:
        self.conflicts, self.runs = conflicts, 0

    async def save(self) -> str:
        self.runs += 1
        if self.runs <= self.conflicts:
            raise ConcurrentUpdate("version moved")
        return "saved"


async def test_a_conflict_runs_the_use_case_again_on_fresh_state() -> None:
    repo = Flaky(conflicts=2)
    uow = FakeUnitOfWork(repo)

    async def work(tx) -> str:
        return await tx.repos.save()

    assert await uow.run(work) == "saved"
    assert repo.runs == 3


async def test_a_conflict_that_persists_propagates_after_the_bounded_retries() -> None:
    repo = Flaky(conflicts=99)
    with pytest.raises(ConcurrentUpdate):
        await FakeUnitOfWork(repo, conflict_attempts=3).run(lambda tx: tx.repos.save())
    assert repo.runs == 3


async def test_a_persisting_conflict_answers_409_problem_json() -> None:
    app = FastAPI()
    install_problem_handlers(app, {ConcurrentUpdate: 409})
    router = APIRouter()
    uow = FakeUnitOfWork(Flaky(conflicts=99))

    @router.post("/things")
    async def update() -> str:
        return await uow.run(lambda tx: tx.repos.save())

    app.include_router(router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.post("/things")
    assert r.status_code == 409
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["status"] == 409


async def test_consume_hands_each_event_to_the_handler_once() -> None:
    uow = FakeUnitOfWork(object())
    seen: list[list[str]] = []
    a = ApplicationSubmittedV1(source="/t", subject="QY1", case_number="QY1", application_id="QY1",
                               company_name="c", applicant_id="u", channel="web")

    async def handle(tx, fresh) -> int:
        seen.append([e.event_id for e in fresh])
        return len(fresh)

    assert await uow.consume("c1", [a, a], handle) == 1
    assert await uow.consume("c1", [a], handle) == 0
    assert await uow.consume("c2", [a], handle) == 1
    assert seen == [[a.event_id], [], [a.event_id]]


# -- typed dependencies ----------------------------------------------------------------------
class Greeter:
    def hello(self) -> str:
        return "你好"


greeter = Provide[Greeter]("greeter")


async def test_provide_hands_routes_the_object_the_composition_root_bound() -> None:
    app = FastAPI()
    app.state.provided = {greeter: Greeter()}

    @app.get("/hello")
    async def hello(g: Annotated[Greeter, Depends(greeter)]) -> str:
        return g.hello()

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        assert (await c.get("/hello")).json() == "你好"


# -- the one background worker ---------------------------------------------------------------
async def test_worker_runs_on_notify_drains_a_full_batch_and_stops_after_the_pass_in_progress() -> None:
    sizes = [3, 3, 1]  # two full batches run back to back, then it waits
    passes: list[int] = []
    in_pass = asyncio.Event()
    release = asyncio.Event()

    async def run_once() -> int:
        n = sizes.pop(0) if sizes else 0
        passes.append(n)
        if not sizes and n == 0 and len(passes) == 5:  # the pass stop() must wait for
            in_pass.set()
            await release.wait()
        return n

    drained: list[bool] = []

    async def drain() -> None:
        drained.append(True)

    w = Worker("t", run_once, interval=3600, batch=3, drain=drain)
    w.start()
    while len(passes) < 4:  # 3, 3, 1 at once; then idle until notified
        await asyncio.sleep(0.01)
        if len(passes) == 3:
            w.notify()
    assert passes[:3] == [3, 3, 1] and w.done == 7
    w.notify()
    await asyncio.wait_for(in_pass.wait(), 5)
    stopping = asyncio.create_task(w.stop(timeout=5))
    await asyncio.sleep(0)
    assert not stopping.done()  # waits for the pass in progress
    release.set()
    await asyncio.wait_for(stopping, 5)
    assert not w.running and drained == [True]


async def test_worker_survives_a_failing_pass() -> None:
    calls = 0
    third = asyncio.Event()

    async def run_once() -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database away")
        if calls == 3:
            third.set()
        return 0

    w = Worker("t", run_once, interval=0.01)
    w.start()
    await asyncio.wait_for(third.wait(), 5)
    assert w.running
    await w.stop()


# -- outages and repeated failures ------------------------------------------------------------
def test_unavailable_means_the_infrastructure_is_away_not_the_input_wrong() -> None:
    from pymongo.errors import DuplicateKeyError, ExecutionTimeout, ServerSelectionTimeoutError

    from servicekit.unavailable import is_unavailable

    assert is_unavailable(ExecutionTimeout("operation exceeded time limit", 50))
    assert is_unavailable(ServerSelectionTimeoutError("no primary"))
    wrapped = RuntimeError("use case failed")
    wrapped.__cause__ = ExecutionTimeout("slow", 50)
    assert is_unavailable(wrapped)
    assert not is_unavailable(DuplicateKeyError("dup"))
    assert not is_unavailable(ValueError("bad event"))


def test_repeat_filter_lets_a_repeated_failure_through_once_per_period_with_the_count() -> None:
    import logging

    from servicekit.telemetry import RepeatFilter

    f = RepeatFilter(every=3600)

    def rec(msg: str, level: int = logging.ERROR) -> logging.LogRecord:
        return logging.LogRecord("t", level, __file__, 1, msg, None, None)

    assert f.filter(rec("broker away"))
    assert [f.filter(rec("broker away")) for _ in range(5)] == [False] * 5
    assert f.filter(rec("another failure"))
    assert f.filter(rec("debug detail", logging.DEBUG))  # below warnings: never held back
    f._seen[("t", "broker away")] = (-1e9, 5)  # the period has passed
    first = rec("broker away")
    assert f.filter(first) and "5 more like it" in str(first.msg)
