"""The typed MongoDB unit of work against the real database: events in the same commit,
idempotent consumption, version conflicts retried."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contracts.events.registration import ApplicationSubmittedV1
from servicekit.aggregate import ConcurrentUpdate
from servicekit.mongo import OUTBOX, PROCESSED, ensure_kit_indexes, make_client
from servicekit.uow import MongoUnitOfWork


@dataclass
class Things:
    db: Any
    session: Any

    async def bump(self, key: str, expected: int) -> None:
        res = await self.db["things"].update_one({"_id": key, "v": expected}, {"$inc": {"v": 1}},
                                                 session=self.session)
        if res.modified_count != 1:
            raise ConcurrentUpdate(key)

    async def version(self, key: str) -> int:
        return (await self.db["things"].find_one({"_id": key}, session=self.session))["v"]


@dataclass
class Repos:
    things: Things

    @classmethod
    def bind(cls, db: Any, session: Any) -> Repos:
        return cls(Things(db, session))


def submitted(case: str) -> ApplicationSubmittedV1:
    return ApplicationSubmittedV1(source="/tests", subject=case, case_number=case, application_id=case,
                                  company_name="兰州测试有限公司", applicant_id="u-1", channel="web")


async def test_run_commits_state_and_events_together_and_retries_a_conflict(infra_env, unique) -> None:
    client = make_client(infra_env.mongodb_uri)
    db = client[f"uow_{unique}"]
    await ensure_kit_indexes(db)
    await db["things"].insert_one({"_id": "a", "v": 0})
    commits: list[int] = []
    uow = MongoUnitOfWork(Repos.bind, client=client, db=db, on_commit=lambda: commits.append(1))
    stale = {"first": True}

    async def work(tx) -> int:
        expected = await tx.repos.things.version("a")
        if stale["first"]:  # another writer saves between our read and our write
            stale["first"] = False
            await db["things"].update_one({"_id": "a"}, {"$inc": {"v": 1}})
        await tx.repos.things.bump("a", expected)
        tx.emit([submitted("QYa")])
        return expected

    assert await uow.run(work) == 1  # the second run read the other writer's version
    assert (await db["things"].find_one({"_id": "a"}))["v"] == 2
    assert await db[OUTBOX].count_documents({}) == 1 and commits == [1]
    await client.close()


async def test_consume_marks_events_in_the_effects_commit_and_skips_them_after(infra_env, unique) -> None:
    client = make_client(infra_env.mongodb_uri)
    db = client[f"uow_{unique}"]
    await ensure_kit_indexes(db)
    uow = MongoUnitOfWork(Repos.bind, client=client, db=db)
    a, b = submitted("QY1"), submitted("QY2")

    async def handle(tx, fresh) -> list[str]:
        if fresh:
            await db["effects"].insert_many([{"_id": e.event_id} for e in fresh], session=tx.session)
        return [e.case_number for e in fresh]

    assert await uow.consume("c", [a, a], handle) == ["QY1"]
    assert await uow.consume("c", [a, b], handle) == ["QY2"]
    assert await uow.consume("c", [a, b], handle) == []
    assert await db["effects"].count_documents({}) == 2
    assert await db[PROCESSED].count_documents({"consumer": "c"}) == 2

    async def failing(tx, fresh) -> None:
        raise RuntimeError("handler failed")

    c = submitted("QY3")
    try:
        await uow.consume("c", [c], failing)
    except RuntimeError:
        pass
    assert await uow.consume("c", [c], handle) == ["QY3"]  # the failed run marked nothing
    await client.close()


async def test_write_conflicts_that_persist_become_a_conflict_within_the_transaction_time(infra_env, unique) -> None:
    """Another session keeps a write on the same document open: the driver retries the
    write conflict, bounded by ``transaction_seconds``, then it is a ConcurrentUpdate (409)."""
    import pytest

    client = make_client(infra_env.mongodb_uri)
    db = client[f"uow_{unique}"]
    await db["things"].insert_one({"_id": "a", "v": 0})
    uow = MongoUnitOfWork(Repos.bind, client=client, db=db, transaction_seconds=1.0)
    async with client.start_session() as other:
        await other.start_transaction()
        await db["things"].update_one({"_id": "a"}, {"$inc": {"v": 1}}, session=other)  # holds the document

        async def work(tx) -> None:
            await tx.repos.things.bump("a", 0)

        with pytest.raises(ConcurrentUpdate, match="write conflicts"):
            await uow.run(work)
        await other.abort_transaction()
    assert await uow.run(work) is None  # once the other writer is gone it goes through
    await client.close()
