"""Departments' answers arriving as events: a batch is one transaction, a repeated answer
has one effect, an impossible one is dead-lettered with its reason."""

from __future__ import annotations

from contracts import dead_letter_topic
from contracts.events.registration import StepDecidedV1
from registration.bootstrap import create_app
from registration.config import Settings
from servicekit.auth import Role
from servicekit.config import load
from servicekit.outbox import find_events
from tests.support.apps import running
from tests.support.auth import bearer
from tests.support.events import SOURCES, make, publish
from tests.support.forms import company_form
from tests.support.kafka import read_all
from tests.support.waiting import eventually


def answer(case: str, step: str, attempt: int = 1, department: str = "market_supervision") -> StepDecidedV1:
    return make(StepDecidedV1, case, source=SOURCES["departments"], step=step, department=department,
                attempt=attempt, decision="approved", reviewer_id="sys")


async def test_repeated_and_impossible_answers(infra_env, unique):
    settings = load(Settings, mongodb_database=f"reg_{unique}")
    async with running(create_app(settings)) as reg:
        r = await reg.post("/cases", json={"form": company_form(f"武威{unique}农业有限公司")}, headers=bearer("u-1"))
        case = r.json()["case_number"]
        await reg.post(f"/cases/{case}/window-check", json={}, headers=bearer("w-1", Role.WINDOW_STAFF))
        licence = answer(case, "licence")
        await publish(infra_env.kafka_bootstrap, licence, licence, answer(f"NOPE{unique}", "licence"),
                      answer(case, "tax", 7, "tax"))

        async def steps():
            body = (await reg.get(f"/cases/{case}", headers=bearer("u-1"))).json()
            states = {s["step"]: s for s in body["steps"]}
            return states if states["tax"]["status"] == "requested" else None

        states = await eventually(steps)
        assert states["licence"]["status"] == "approved" and states["licence"]["attempt"] == 1
        assert states["tax"]["attempt"] == 1  # the stale answer (attempt 7) changed nothing
        requested = len(await find_events(reg.kit.db, key=case, topic="registration.step-requested.v1"))
        assert requested == 4  # licence once, then seal, tax, social security once each

        async def dead():
            recs = await read_all(infra_env.kafka_bootstrap, dead_letter_topic("registration"))
            reasons = {r.key.decode(): dict(r.headers)["dlq_reason"].decode() for r in recs
                       if r.key in (case.encode(), f"NOPE{unique}".encode())}
            return reasons if len(reasons) == 2 else None

        # while the service runs: the stale answer may come in a later fetch than the
        # licence (Apache Kafka answers a waiting fetch as soon as a record arrives)
        reasons = await eventually(dead)
    assert reasons[f"NOPE{unique}"].startswith("NotFound")
    assert reasons[case].startswith("StaleDecision")
