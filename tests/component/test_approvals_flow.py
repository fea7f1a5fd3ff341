"""Approvals in-process on the real broker and database: HTTP in → state and events out;
departments' answers in as events (a repeat has one effect, another department's or a stale
answer is dead-lettered with its reason); bad input named in problem+json; time limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from approvals.bootstrap import create_app
from approvals.config import Settings
from contracts import dead_letter_topic
from contracts.events.approvals import ItemDecidedV1
from servicekit.auth import Role
from servicekit.clock import FrozenClock
from servicekit.config import load
from servicekit.outbox import find_events
from tests.support.approvals import MATERIALS, STAGE_FORMS, project_form, upload_body
from tests.support.apps import running
from tests.support.auth import bearer
from tests.support.events import SOURCES, make, publish
from tests.support.kafka import read_all
from tests.support.waiting import eventually

STAFF = bearer("w-1", Role.WINDOW_STAFF)


def answer(case: str, item: str, department: str, attempt: int = 1) -> ItemDecidedV1:
    return make(ItemDecidedV1, case, source=SOURCES["departments"], item=item, department=department,
                attempt=attempt, decision="approved", reviewer_id="sys")


async def register(client, code: str, materials=MATERIALS) -> None:
    r = await client.post("/projects", json={"form": project_form(code)}, headers=bearer("u-1"))
    assert r.status_code == 201, r.text
    for name in materials:
        r = await client.post(f"/projects/{code}/materials", json=upload_body(name), headers=bearer("u-1"))
        assert r.status_code == 200, r.text


async def test_a_stage_from_the_merged_form_to_its_permits_with_answers_as_events(infra_env, unique):
    settings = load(Settings, mongodb_database=f"apr_{unique}")
    async with running(create_app(settings)) as apr:
        code = "2026-620102-47-01-000001"
        await register(apr, code, materials=["site_plan"])
        form = dict(STAGE_FORMS["initiation_land_use"])
        del form["land_use"]
        r = await apr.post(f"/projects/{code}/stages", json={"stage": "initiation_land_use", "form": form},
                           headers=bearer("u-1"))
        assert r.status_code == 201, r.text
        case = r.json()["case_number"]
        # 一次性告知: every missing field and material of the whole stage, at once
        r = await apr.post(f"/stages/{case}/acceptance", headers=STAFF)
        body = r.json()
        assert body["status"] == "incomplete"
        assert {m["field"] for m in body["missing"]} == {"form.land_use", "materials.project_proposal",
                                                         "materials.land_title", "materials.land_grant_contract"}
        for name in ("project_proposal", "land_title", "land_grant_contract"):
            await apr.post(f"/projects/{code}/materials", json=upload_body(name), headers=bearer("u-1"))
        r = await apr.post(f"/stages/{case}/supplement", json={"form": {"land_use": "二类居住用地"}}, headers=bearer("u-1"))
        assert r.status_code == 200, r.text
        r = await apr.post(f"/stages/{case}/acceptance", headers=STAFF)
        assert r.json()["status"] == "accepted", r.text

        # answers as events: one twice, one of another department, one stale, one for no stage
        first = answer(case, "project_approval", "development_reform")
        await publish(infra_env.kafka_bootstrap, first, first, answer(case, "site_selection", "fire_review"),
                      answer(case, "site_selection", "natural_resources", attempt=5),
                      answer(f"NOPE{unique}", "site_selection", "natural_resources"),
                      answer(case, "site_selection", "natural_resources"))

        async def requested_land_use():
            items = {i["item"]: i for i in (await apr.get(f"/stages/{case}", headers=bearer("u-1"))).json()["items"]}
            return items if items["land_use_planning_permit"]["status"] == "requested" else None

        items = await eventually(requested_land_use)
        assert items["project_approval"]["reviews"] == [{"department": "development_reform", "attempt": 1,
                                                         "decision": "approved", "reviews": 1}]
        await publish(infra_env.kafka_bootstrap, answer(case, "land_use_planning_permit", "natural_resources"))

        async def completed():
            b = (await apr.get(f"/stages/{case}", headers=bearer("u-1"))).json()
            return b if b["status"] == "completed" else None

        body = await eventually(completed)
        assert len({d["number"] for d in body["documents"]}) == 3 and body["same_day"] is not None
        assert len(await find_events(apr.kit.db, key=case, topic="approvals.stage-completed.v1")) == 1
        project = (await apr.get(f"/projects/{code}", headers=bearer("u-1"))).json()
        assert project["stages"]["initiation_land_use"]["status"] == "completed" and len(project["documents"]) == 3

        async def dead():
            recs = await read_all(infra_env.kafka_bootstrap, dead_letter_topic("approvals"))
            reasons = sorted(dict(r.headers)["dlq_reason"].decode().split(":")[0] for r in recs
                             if r.key in (case.encode(), f"NOPE{unique}".encode()))
            return reasons if len(reasons) == 3 else None

        assert await eventually(dead) == ["NotFound", "NotYourDepartment", "StaleDecision"]


async def test_bad_input_is_named_in_problem_json(infra_env, unique):
    async with running(create_app(load(Settings, mongodb_database=f"apr_{unique}"))) as apr:
        code = "2026-620102-47-01-000002"
        await register(apr, code, materials=[])
        bad = {**upload_body("site_plan"), "sha256": "0" * 64}
        r = await apr.post(f"/projects/{code}/materials", json=bad, headers=bearer("u-1"))
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["errors"][0]["field"] == "sha256"
        r = await apr.post(f"/projects/{code}/stages", json={"stage": "construction_permit"}, headers=bearer("u-1"))
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "stage"
        r = await apr.post(f"/projects/{code}/stages", json={"stage": "initiation_land_use", "form": {"floors": 3}},
                           headers=bearer("u-1"))
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "form.floors"
        form = project_form("2026-620102-47-01-000003")
        form["builder"]["unified_social_credit_code"] = "91620100MA000CT712"
        r = await apr.post("/projects", json={"form": form}, headers=bearer("u-1"))
        assert r.status_code == 422 and "unified_social_credit_code" in r.text
        r = await apr.post(f"/projects/{code}/stages", json={"stage": "initiation_land_use",
                                                           "form": STAGE_FORMS["initiation_land_use"]}, headers=bearer("u-1"))
        case = r.json()["case_number"]
        for name in MATERIALS:
            await apr.post(f"/projects/{code}/materials", json=upload_body(name), headers=bearer("u-1"))
        await apr.post(f"/stages/{case}/acceptance", headers=STAFF)
        fire = bearer("r-1", Role.REVIEWER, department="fire_review")
        r = await apr.post(f"/stages/{case}/items/site_selection/decision", json={"decision": "approved"}, headers=fire)
        assert r.status_code == 403 and r.json()["errors"][0]["field"] == "department"
        nr = bearer("r-2", Role.REVIEWER, department="natural_resources")
        r = await apr.post(f"/stages/{case}/items/site_selection/decision", headers=nr,
                           json={"decision": "returned", "reasons": [{"field": "form.total_investment", "reason": "x"}]})
        assert r.status_code == 403 and r.json()["errors"][0]["field"] == "reasons.0.field"


async def test_overdue_stages_are_listed_and_announced_once(infra_env, unique):
    clock = FrozenClock(datetime(2026, 11, 24, 2, 0, tzinfo=UTC))
    settings = load(Settings, mongodb_database=f"apr_{unique}", sweep_interval_seconds=0.2)
    async with running(create_app(settings, clock=clock)) as apr:
        code = "2026-620102-47-01-000004"
        await register(apr, code)
        r = await apr.post(f"/projects/{code}/stages", json={"stage": "initiation_land_use",
                                                           "form": STAGE_FORMS["initiation_land_use"]}, headers=bearer("u-1"))
        case = r.json()["case_number"]
        await apr.post(f"/stages/{case}/acceptance", headers=STAFF)
        supervisor = bearer("s-1", Role.SUPERVISOR)
        assert (await apr.get("/stages", params={"view": "overdue"}, headers=supervisor)).json() == []
        clock.advance(days=10)

        async def overdue():
            listed = (await apr.get("/stages", params={"view": "overdue"}, headers=supervisor)).json()
            return listed if listed and listed[0]["overdue"] else None

        listed = await eventually(overdue)
        assert [s["case_number"] for s in listed] == [case]
        async def announced():
            counts = {t: len(await find_events(apr.kit.db, key=case, topic=t))
                      for t in ("approvals.stage-deadline-warning.v1", "approvals.stage-overdue.v1",
                                "approvals.item-overdue.v1")}
            return counts if all(counts.values()) else None

        events = await eventually(announced)
        # the two items the departments had (1 working day each); the third still waits for one of them
        assert events == {"approvals.stage-deadline-warning.v1": 1, "approvals.stage-overdue.v1": 1,
                          "approvals.item-overdue.v1": 2}
        body = (await apr.get(f"/stages/{case}", headers=supervisor)).json()
        items = {i["item"]: i["overdue"] for i in body["items"]}
        assert items == {"project_approval": True, "site_selection": True, "land_use_planning_permit": False}
        r = await apr.put(f"/stages/{case}/helper", json={"helper_id": "h-1"}, headers=supervisor)
        assert r.json()["helper_id"] == "h-1"
        assert timedelta(0) < clock.now() - datetime.fromisoformat(listed[0]["due_at"])
