"""Deadline timers against the real database: scheduling, sweeping, exactly-once across replicas."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pymongo
import pytest
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from servicekit.clock import FrozenClock
from servicekit.timers import FIRED, PENDING, Sweeper, Timer, TimerStore
from tests.infra import Infra
from tests.support.waiting import eventually

NOW = datetime(2025, 9, 30, 2, 0, tzinfo=UTC)  # whole milliseconds: BSON dates keep ms


@contextlib.asynccontextmanager
async def database(infra: Infra, name: str) -> AsyncIterator[AsyncDatabase[Any]]:
    client: pymongo.AsyncMongoClient[Any] = pymongo.AsyncMongoClient(infra.mongodb_uri)
    try:
        yield client[name]
    finally:
        with contextlib.suppress(Exception):
            await client.drop_database(name)
        await client.close()


def recording_handler(db: AsyncDatabase[Any], tag: str = "r") -> Any:
    async def handler(timer: Timer, session: AsyncClientSession) -> None:
        await db.effects.insert_one(
            {"timer": timer.key, "kind": timer.kind, "payload": dict(timer.payload), "by": tag},
            session=session,
        )

    return handler


@pytest.fixture
async def db(infra: Infra, unique: str) -> AsyncIterator[AsyncDatabase[Any]]:
    async with database(infra, f"timers_{unique}") as db:
        yield db


@pytest.fixture
async def store(db: AsyncDatabase[Any]) -> TimerStore:
    store = TimerStore(db)
    await store.ensure_indexes()
    return store


async def effects(db: AsyncDatabase[Any]) -> list[dict[str, Any]]:
    return await db.effects.find({}, {"_id": 0}).to_list()


async def test_due_timer_fires_once_and_a_future_one_waits(db: AsyncDatabase[Any], store: TimerStore) -> None:
    assert await store.schedule("case-1:deadline", "deadline", NOW - timedelta(minutes=1), {"case": 1})
    assert await store.schedule("case-2:deadline", "deadline", NOW + timedelta(hours=1), {"case": 2})
    handler = recording_handler(db)

    assert await store.sweep_once(handler, now=NOW) == 1
    assert await effects(db) == [
        {"timer": "case-1:deadline", "kind": "deadline", "payload": {"case": 1}, "by": "r"}
    ]
    fired = await store.get("case-1:deadline")
    assert fired is not None and fired.status == FIRED and fired.fired_at == NOW
    assert fired.due_at == NOW - timedelta(minutes=1) and fired.due_at.tzinfo is not None
    waiting = await store.get("case-2:deadline")
    assert waiting is not None and waiting.status == PENDING and waiting.fired_at is None

    # A second sweep at the same time fires nothing more.
    assert await store.sweep_once(handler, now=NOW) == 0
    assert len(await effects(db)) == 1

    # Later, the second one is due.
    assert await store.sweep_once(handler, now=NOW + timedelta(hours=2)) == 1
    assert sorted(e["timer"] for e in await effects(db)) == ["case-1:deadline", "case-2:deadline"]

    index_keys = [list(ix["key"].items()) for ix in await (await db.timers.list_indexes()).to_list()]
    assert [("status", 1), ("due_at", 1)] in index_keys


async def test_sweep_respects_limit_earliest_first(db: AsyncDatabase[Any], store: TimerStore) -> None:
    for i in (3, 1, 4, 0, 2):
        await store.schedule(f"t{i}", "k", NOW - timedelta(minutes=10 - i), {})
    assert await store.sweep_once(recording_handler(db), now=NOW, limit=2) == 2
    assert sorted(e["timer"] for e in await effects(db)) == ["t0", "t1"]


async def test_reschedule_moves_a_pending_timer_but_never_rearms_a_fired_one(db: AsyncDatabase[Any], store: TimerStore) -> None:
    handler = recording_handler(db)

    # Due now, moved into the future: not fired.
    await store.schedule("a", "deadline", NOW - timedelta(minutes=5), {"v": 1})
    assert await store.schedule("a", "deadline", NOW + timedelta(days=1), {"v": 2})
    assert await store.sweep_once(handler, now=NOW) == 0
    # In the future, moved to the past: fired, with the latest payload.
    await store.schedule("b", "deadline", NOW + timedelta(days=1), {"v": 1})
    assert await store.schedule("b", "warning", NOW - timedelta(seconds=1), {"v": 2})
    assert await store.sweep_once(handler, now=NOW) == 1
    assert await effects(db) == [{"timer": "b", "kind": "warning", "payload": {"v": 2}, "by": "r"}]
    assert await db.timers.count_documents({}) == 2

    # Scheduling a fired key again changes nothing and is reported.
    assert not await store.schedule("b", "deadline", NOW + timedelta(days=3), {"v": 3})
    b = await store.get("b")
    assert b is not None and b.status == FIRED and b.due_at == NOW - timedelta(seconds=1)
    assert b.payload == {"v": 2}
    assert await store.sweep_once(handler, now=NOW + timedelta(days=5)) == 1  # only "a"
    assert sorted(e["timer"] for e in await effects(db)) == ["a", "b"]


async def test_schedule_and_cancel_inside_a_caller_transaction(db: AsyncDatabase[Any], store: TimerStore) -> None:
    await store.schedule("done", "deadline", NOW - timedelta(minutes=1), {})
    assert await store.sweep_once(recording_handler(db), now=NOW) == 1

    async with db.client.start_session() as session:
        await session.start_transaction()
        assert await store.schedule("t", "deadline", NOW - timedelta(minutes=1), {}, session=session)
        await session.abort_transaction()
    assert await store.get("t") is None  # rolled back with the caller's transaction

    async with db.client.start_session() as session:
        await session.start_transaction()
        await db.cases.insert_one({"_id": "c1"}, session=session)
        # A fired key inside a transaction: reported, and the transaction survives.
        assert not await store.schedule("done", "deadline", NOW, {}, session=session)
        assert await store.schedule("t", "deadline", NOW - timedelta(minutes=1), {}, session=session)
        await session.commit_transaction()
    assert await db.cases.count_documents({}) == 1
    t = await store.get("t")
    assert t is not None and t.status == PENDING


async def test_cancel(db: AsyncDatabase[Any], store: TimerStore) -> None:
    handler = recording_handler(db)
    await store.schedule("x", "deadline", NOW - timedelta(minutes=1), {})
    assert await store.cancel("x")
    assert not await store.cancel("x")
    assert await store.get("x") is None
    assert await store.sweep_once(handler, now=NOW) == 0
    assert await effects(db) == []

    # A fired timer cannot be cancelled; its record stays.
    await store.schedule("y", "deadline", NOW - timedelta(minutes=1), {})
    assert await store.sweep_once(handler, now=NOW) == 1
    assert not await store.cancel("y")
    y = await store.get("y")
    assert y is not None and y.status == FIRED


async def test_handler_failure_leaves_the_timer_pending_and_rolls_back_its_writes(db: AsyncDatabase[Any], store: TimerStore) -> None:
    await store.schedule("flaky", "deadline", NOW - timedelta(minutes=1), {"n": 1})
    calls = 0

    async def failing(timer: Timer, session: AsyncClientSession) -> None:
        nonlocal calls
        calls += 1
        await db.effects.insert_one({"timer": timer.key, "by": "failing"}, session=session)
        raise RuntimeError("downstream unavailable")

    assert await store.sweep_once(failing, now=NOW) == 0
    assert calls == 1
    t = await store.get("flaky")
    assert t is not None and t.status == PENDING and t.fired_at is None
    assert await effects(db) == []  # the handler's write was aborted with the claim

    assert await store.sweep_once(recording_handler(db), now=NOW + timedelta(seconds=5)) == 1
    assert [e["timer"] for e in await effects(db)] == ["flaky"]
    t = await store.get("flaky")
    assert t is not None and t.status == FIRED and t.fired_at == NOW + timedelta(seconds=5)


async def test_two_replicas_fire_every_timer_exactly_once(infra: Infra, unique: str) -> None:
    name = f"timers_{unique}"
    count = 30
    async with database(infra, name) as db_a, database(infra, name) as db_b:
        assert db_a.client is not db_b.client
        store_a, store_b = TimerStore(db_a), TimerStore(db_b)
        await store_a.ensure_indexes()
        for i in range(count):
            await store_a.schedule(f"case-{i}", "deadline", NOW - timedelta(seconds=count - i), {"i": i})

        def slow_handler(db: AsyncDatabase[Any], tag: str) -> Any:
            async def handler(timer: Timer, session: AsyncClientSession) -> None:
                await asyncio.sleep(0.002)  # widen the race window between claim and commit
                await db.effects.insert_one({"timer": timer.key, "by": tag}, session=session)

            return handler

        async def replica(store: TimerStore, db: AsyncDatabase[Any], tag: str) -> int:
            fired = 0
            for round_ in range(40):
                fired += await store.sweep_once(
                    slow_handler(db, tag), now=NOW + timedelta(milliseconds=round_), limit=7
                )
                if await db.timers.count_documents({"status": PENDING}) == 0:
                    break
            return fired

        fired_a, fired_b = await asyncio.gather(replica(store_a, db_a, "a"), replica(store_b, db_b, "b"))

        done = await effects(db_a)
        per_timer = Counter(e["timer"] for e in done)
        assert set(per_timer) == {f"case-{i}" for i in range(count)}
        assert max(per_timer.values()) == 1, {k: v for k, v in per_timer.items() if v > 1}
        assert fired_a + fired_b == count
        by = Counter(e["by"] for e in done)
        assert by["a"] == fired_a and by["b"] == fired_b
        assert await db_a.timers.count_documents({"status": FIRED}) == count


async def test_sweeper_runs_on_the_injected_clock(db: AsyncDatabase[Any], store: TimerStore) -> None:
    clock = FrozenClock(NOW)
    await store.schedule("later", "deadline", NOW + timedelta(hours=1), {})
    await store.schedule("marker", "deadline", NOW, {})  # due on the frozen clock: shows a sweep has run
    sweeper = Sweeper(store, recording_handler(db), clock=clock, interval=0.05)

    async def fired() -> list[str]:
        return sorted(e["timer"] for e in await effects(db))

    async def swept() -> int:  # counted once a whole sweep has returned: all it fired is in
        return sweeper.fired_total

    async def later_fired() -> bool:
        return "later" in await fired()

    sweeper.start()
    try:
        assert sweeper.running
        await eventually(swept, what="a sweep at the frozen time")
        assert await fired() == ["marker"]  # "later" is not due on the frozen clock
        assert sweeper.fired_total == 1

        clock.advance(hours=2)
        await eventually(later_fired, what="a sweep after the clock moved")
        assert await fired() == ["later", "marker"]
        assert sweeper.fired_total == 2
    finally:
        await sweeper.stop()
    assert not sweeper.running
    t = await store.get("later")
    assert t is not None and t.fired_at == NOW + timedelta(hours=2)
