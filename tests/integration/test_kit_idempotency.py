"""The kit's Idempotency-Key store and its unit-of-work hook against the real database:
reserve, refuse another body (422) or a duplicate in flight (409), take over a dead
holder's key, and fence that holder out: its transaction aborts, so its effect never
happens; the answer commits with the effect."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from servicekit.idempotency import (
    IDEMPOTENCY,
    Answer,
    IdempotencyStore,
    Reservation,
    answering,
    ensure_indexes,
)
from servicekit.mongo import ensure_kit_indexes, make_client
from servicekit.problems import Problem
from servicekit.uow import MongoUnitOfWork

T0 = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)


@dataclass
class Effects:
    db: Any
    session: Any

    async def happen(self, name: str) -> str:
        await self.db["effects"].insert_one({"name": name}, session=self.session)
        return name

    @classmethod
    def bind(cls, db: Any, session: Any) -> Effects:
        return cls(db, session)


def answer_of(name: str) -> tuple[Answer, Any]:
    return Answer(201, {"name": name}, {"content-type": "application/json"}), {"name": name}


@pytest.fixture
async def db(infra_env, unique):
    client = make_client(infra_env.mongodb_uri)
    db = client[f"idem_{unique}"]
    await ensure_kit_indexes(db)
    await ensure_indexes(db)
    yield db
    await client.close()


async def test_a_key_is_reserved_once_per_caller_and_request(db) -> None:
    clock = [T0]
    store = IdempotencyStore(lambda: db, retention=timedelta(hours=1), lock=timedelta(seconds=30),
                             now=lambda: clock[0])
    first = await store.begin("u-1", "POST /x", "k-1", "fp-1")
    assert isinstance(first, Reservation)
    with pytest.raises(Problem) as in_flight:
        await store.begin("u-1", "POST /x", "k-1", "fp-1")
    assert (in_flight.value.status, in_flight.value.headers) == (409, {"Retry-After": "1"})
    with pytest.raises(Problem) as other_body:
        await store.begin("u-1", "POST /x", "k-1", "fp-2")
    assert other_body.value.status == 422 and other_body.value.errors[0]["field"] == "Idempotency-Key"
    for caller, request in (("u-2", "POST /x"), ("u-1", "POST /y")):  # another caller, another request
        assert isinstance(await store.begin(caller, request, "k-1", "fp-1"), Reservation)
    await store.release(first)  # nothing committed: the key is free again
    again = await store.begin("u-1", "POST /x", "k-1", "fp-1")
    assert isinstance(again, Reservation) and again.token != first.token
    doc = await db[IDEMPOTENCY].find_one({"_id": again.id})
    assert doc["expires_at"] == T0 + timedelta(hours=1)


async def test_a_dead_holder_is_taken_over_and_fenced_out_its_effect_never_commits(db) -> None:
    clock = [T0]
    store = IdempotencyStore(lambda: db, retention=timedelta(hours=1), lock=timedelta(seconds=30),
                             now=lambda: clock[0])
    uow = MongoUnitOfWork(Effects.bind, client=db.client, db=db)
    dead = await store.begin("u-1", "POST /x", "k-1", "fp-1")
    assert isinstance(dead, Reservation)
    clock[0] += timedelta(seconds=31)  # its lock expired: a retry takes the key over
    retry = await store.begin("u-1", "POST /x", "k-1", "fp-1")
    assert isinstance(retry, Reservation) and retry.id == dead.id and retry.token != dead.token
    with answering(store, dead, answer_of) as late:  # the old holder wakes up and tries to commit
        with pytest.raises(Problem) as superseded:
            await uow.run(lambda tx: tx.repos.happen("late"))
    assert superseded.value.status == 409 and late.recorded is None
    assert await db["effects"].count_documents({}) == 0  # its transaction aborted: no effect
    with answering(store, retry, answer_of) as run:
        assert await uow.run(lambda tx: tx.repos.happen("retry")) == "retry"
    assert run.recorded == answer_of("retry")
    assert await db["effects"].count_documents({}) == 1
    await store.release(retry)  # a recorded answer is never released
    replay = await store.begin("u-1", "POST /x", "k-1", "fp-1")
    assert replay == Answer(201, {"name": "retry"}, {"content-type": "application/json"})


async def test_the_answer_is_written_only_by_a_transaction_that_commits(db) -> None:
    store = IdempotencyStore(lambda: db, retention=timedelta(hours=1), lock=timedelta(seconds=30))
    uow = MongoUnitOfWork(Effects.bind, client=db.client, db=db)
    held = await store.begin("u-1", "POST /x", "k-1", "fp-1")
    assert isinstance(held, Reservation)

    async def fails(tx: Any) -> str:
        await tx.repos.happen("half")
        raise ValueError("the use case fails after a write")

    with answering(store, held, answer_of) as run:
        with pytest.raises(ValueError):
            await uow.run(fails)
    assert run.recorded is None and await db["effects"].count_documents({}) == 0
    assert (await db[IDEMPOTENCY].find_one({"_id": held.id}))["state"] == "in_flight"

