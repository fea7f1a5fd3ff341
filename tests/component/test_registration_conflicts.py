"""Optimistic concurrency on a case, in the running service against the real database: a
version conflict runs the use case again, and one that persists answers 409 problem+json
(never 422 or 500)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest

from registration.bootstrap import create_app
from registration.config import Settings
from registration.domain import Case
from registration.repository import CASES, MongoCaseRepository, MongoRepositories
from servicekit.auth import Role
from servicekit.config import load
from tests.support.apps import running
from tests.support.auth import bearer
from tests.support.forms import company_form

SUPERVISOR = bearer("s-1", Role.SUPERVISOR)


class Races:
    """How many more loads in a transaction are followed by a save of someone else."""

    def __init__(self, left: int = 0, *, own_session: bool) -> None:
        self.left, self.own_session = left, own_session


class RacedCases(MongoCaseRepository):
    """The case's stored version moves on between a load and the save that follows it.

    ``own_session=False``: another writer saves in its own session (the database sees a
    write conflict and the transaction runs again). ``own_session=True``: the move is
    written inside the transaction itself, so that the repository's version check (not the
    database) is what notices: ConcurrentUpdate, the use case runs again on fresh state."""

    def __init__(self, db: Any, session: Any, races: Races) -> None:
        super().__init__(db, session)
        self.races = races

    async def get(self, case_number: str) -> Case:
        case = await super().get(case_number)
        if self.session is not None and self.races.left:
            self.races.left -= 1
            await self.db[CASES].update_one({"_id": case_number}, {"$inc": {"version": 1}},
                                            session=self.session if self.races.own_session else None)
        return case


@pytest.fixture
def settings(infra_env, unique) -> Settings:
    return load(Settings, mongodb_database=f"reg_{unique}")


async def open_case(reg, name: str) -> str:
    r = await reg.post("/cases", json={"form": company_form(name)}, headers=bearer("u-1"))
    assert r.status_code == 201, r.text
    return r.json()["case_number"]


def race(reg, races: Races) -> Races:
    """The running service's transactions load cases through RacedCases from now on."""

    def bind(db: Any, session: Any) -> MongoRepositories:
        return replace(MongoRepositories.bind(db, session), cases=RacedCases(db, session, races))

    reg.kit.uow.bind = bind
    return races


async def stored(reg, case: str) -> dict[str, Any]:
    return await reg.kit.db[CASES].find_one({"_id": case})


@pytest.mark.parametrize(("own_session", "versions"), [(True, 1), (False, 2)], ids=["version-check", "other-writer"])
async def test_a_conflict_is_resolved_by_running_the_use_case_again(settings, unique, own_session, versions):
    """Either way ours lands once on the newest state (on top of the other writer's save, if it committed)."""
    async with running(create_app(settings)) as reg:
        case = await open_case(reg, f"张掖{unique}湿地有限公司")
        version = (await stored(reg, case))["version"]
        races = race(reg, Races(1, own_session=own_session))
        r = await reg.put(f"/cases/{case}/helper", json={"helper_id": "h-1"}, headers=SUPERVISOR)
        assert r.status_code == 200, r.text
        assert races.left == 0  # the first run met a newer version
        doc = await stored(reg, case)
        assert doc["helper_id"] == "h-1" and doc["version"] == version + versions
        assert [h["action"] for h in doc["history"]].count("helper_assigned") == 1


async def test_a_version_conflict_that_persists_answers_409_problem_json(settings, unique):
    async with running(create_app(settings)) as reg:
        case = await open_case(reg, f"白银{unique}矿业有限公司")
        races = race(reg, Races(100, own_session=True))
        r = await reg.put(f"/cases/{case}/helper", json={"helper_id": "h-1"}, headers=SUPERVISOR)
        assert r.status_code == 409, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["status"] == 409 and (r.json()["title"], r.json()["code"]) == ("Conflict", "ConcurrentUpdate")
        assert races.left == 100 - settings.conflict_attempts  # each run met a newer version
        assert (await stored(reg, case))["helper_id"] is None


async def test_concurrent_requests_on_one_case_lose_no_update(settings, unique):
    async with running(create_app(settings)) as reg:
        case = await open_case(reg, f"平凉{unique}果品有限公司")
        helpers = ["h-1", "h-2"]
        answers = await asyncio.gather(*(reg.put(f"/cases/{case}/helper", json={"helper_id": h}, headers=SUPERVISOR)
                                         for h in helpers))
        assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
        doc = await stored(reg, case)
        assigned = [h["detail"] for h in doc["history"] if h["action"] == "helper_assigned"]
        assert sorted(assigned) == helpers and doc["helper_id"] == assigned[-1]
