"""Construction approvals across real processes: approvals, notifications, the simulated
departments and the local SMS gateway, on the real broker and database."""

from __future__ import annotations

import httpx
import pytest

from contracts.events.approvals import ItemRequestedV1, StageCompletedV1
from devstack.gateways import GatewayProcess
from servicekit.auth import Role
from tests.support.approvals import MATERIALS, STAGE_FORMS, STAGES, material_bytes, project_form, sha256, upload_body
from tests.support.auth import bearer
from tests.support.events import read_events_sync
from tests.support.waiting import wait_for

PHONE = "13987654321"
STAFF = bearer("w-1", Role.WINDOW_STAFF)


@pytest.fixture
def gateways(tmp_path):
    gw = GatewayProcess(log_path=tmp_path / "gateways.log").start()
    yield gw
    gw.stop()


def project_code(unique: str) -> str:
    return f"2026-620102-47-01-{int(unique, 16) % 1_000_000:06d}"  # unique: hex


def register(apr, code: str, applicant: str) -> None:
    r = httpx.post(f"{apr.url}/projects", headers=bearer(applicant),
                   json={"form": project_form(code), "applicant_phone": PHONE})
    assert r.status_code == 201, r.text
    for name in MATERIALS:  # every material once, at the start
        r = httpx.post(f"{apr.url}/projects/{code}/materials", headers=bearer(applicant), json=upload_body(name))
        assert r.status_code == 200, r.text


def declare_and_accept(apr, code: str, stage: str, applicant: str) -> str:
    utilities = ["water", "power"] if stage == "completion_acceptance" else []
    form = {k: v for k, v in STAGE_FORMS[stage].items() if k not in ("water_demand", "power_demand") or utilities}
    r = httpx.post(f"{apr.url}/projects/{code}/stages", headers=bearer(applicant),
                   json={"stage": stage, "form": form, "utilities": utilities})
    assert r.status_code == 201, r.text
    case = r.json()["case_number"]
    r = httpx.post(f"{apr.url}/stages/{case}/acceptance", headers=STAFF)
    assert r.status_code == 200 and r.json()["status"] == "accepted", r.text
    return case


def stage_of(apr, case: str, applicant: str) -> dict:
    return httpx.get(f"{apr.url}/stages/{case}", headers=bearer(applicant)).json()


def completed(apr, case: str, applicant: str):
    return lambda: (body := stage_of(apr, case, applicant))["status"] == "completed" and body


def test_a_project_goes_through_four_stages_one_material_uploaded_once_and_a_returned_item_re_reviewed_alone(
        start_service, start_departments, gateways, unique, infra):
    apr = start_service("approvals")
    start_service("notifications", **gateways.settings_env(), NOTIFICATIONS_DEFAULT_QUIET_HOURS="off",
                  NOTIFICATIONS_DELIVERY_POLL_SECONDS="0.2")
    start_departments("--return", "project_approval@1=form.construction_scale")
    code, applicant = project_code(unique), f"u-{unique}"
    register(apr, code, applicant)

    # Stage 1: the development and reform commission returns its item; the others are not held up.
    case1 = declare_and_accept(apr, code, STAGES[0], applicant)
    returned = wait_for(lambda: (b := stage_of(apr, case1, applicant)) and
                        {i["item"]: i for i in b["items"]}["project_approval"]["status"] == "returned" and b)
    assert returned["status"] == "accepted"
    wait_for(lambda: {i["item"]: i["status"] for i in stage_of(apr, case1, applicant)["items"]}["land_use_planning_permit"]
             == "approved", what="the other items approved meanwhile")
    r = httpx.post(f"{apr.url}/stages/{case1}/items/project_approval/correction", headers=bearer(applicant),
                   json={"form": {"construction_scale": "12栋住宅，总建筑面积8.6万平方米"}})
    assert r.status_code == 200, r.text
    body = wait_for(completed(apr, case1, applicant))
    counts = {i["item"]: {rv["department"]: rv["reviews"] for rv in i["reviews"]} for i in body["items"]}
    assert counts == {"project_approval": {"development_reform": 2}, "site_selection": {"natural_resources": 1},
                      "land_use_planning_permit": {"natural_resources": 1}}
    requested = read_events_sync(infra, ItemRequestedV1, case1)
    assert sorted((e.item, e.attempt) for e in requested) == [("land_use_planning_permit", 1), ("project_approval", 1),
                                                              ("project_approval", 2), ("site_selection", 1)]

    # Stages 2-4 in order, each completing with its documents numbered.
    cases = [case1]
    for stage in STAGES[1:]:
        wait_for(completed(apr, cases[-1], applicant), timeout=60)
        cases.append(declare_and_accept(apr, code, stage, applicant))
    final = wait_for(completed(apr, cases[-1], applicant), timeout=60)
    joint = {i["item"]: i for i in final["items"]}["joint_acceptance"]
    assert sorted(rv["department"] for rv in joint["reviews"]) == ["archives", "civil_air_defence", "fire_review",
                                                                   "natural_resources"]
    assert [d["kind"] for d in final["documents"]].count("joint_acceptance_certificate") == 1

    project = wait_for(lambda: (p := httpx.get(f"{apr.url}/projects/{code}", headers=bearer(applicant)).json())
                       ["completed_at"] and p)
    numbers = [d["number"] for d in project["documents"]]
    assert len(numbers) == len(set(numbers)) >= 12 and all(n for n in numbers)
    assert {s: v["status"] for s, v in project["stages"].items()} == {s: "completed" for s in STAGES}

    # One material, uploaded once, reused by every stage that needed it.
    site_plan = {m["name"]: m for m in project["materials"]}["site_plan"]
    assert site_plan["uploads"] == 1 and site_plan["sha256"] == sha256(material_bytes("site_plan"))
    for case in cases:
        used = {e.materials.get("site_plan") for e in read_events_sync(infra, ItemRequestedV1, case)} - {None}
        assert used == {site_plan["sha256"]}, case
    assert all(len(read_events_sync(infra, StageCompletedV1, c)) == 1 for c in cases)

    # The applicant's phone got the return, each stage's completion and the project's.
    texts = wait_for(lambda: (t := [s["text"] for s in gateways.received(to=PHONE)]) and
                     sum("四个阶段审批全部办结" in x for x in t) == 1 and t, timeout=60, what="the project's SMS")
    assert sum("阶段已办结" in t for t in texts) == 4
    assert sum("需补正" in t for t in texts) == 1
    assert all(any(n in t for t in texts) for n in numbers[:3])

    # The timeline and the statistics
    timeline = httpx.get(f"{apr.url}/projects/{code}/timeline", headers=bearer(applicant)).json()
    assert [e["action"] for e in timeline].count("completed") == 5  # four stages and the project
    stats = httpx.get(f"{apr.url}/statistics", headers=bearer("s-1", Role.SUPERVISOR)).json()
    assert [s["completed"] for s in stats] == [1, 1, 1, 1]


def test_approvals_killed_mid_stage_completes_the_stage_once_with_no_item_decided_twice(
        start_service, start_departments, unique, infra):
    apr = start_service("approvals")
    start_departments("--delay", "0.5")
    code, applicant = project_code(unique), f"u-{unique}"
    register(apr, code, applicant)
    case = declare_and_accept(apr, code, STAGES[0], applicant)
    wait_for(lambda: any(i["status"] == "approved" for i in stage_of(apr, case, applicant)["items"]),
             what="one item approved, the others under way")
    apr.kill()  # SIGKILL
    apr.start()
    body = wait_for(completed(apr, case, applicant), timeout=60)
    assert all(rv["reviews"] == 1 for i in body["items"] for rv in i["reviews"])
    wait_for(lambda: read_events_sync(infra, StageCompletedV1, case), what="the completion on the topic")
    # Marker: the next stage completes after the restart: a duplicate completion of the first would be there by now.
    marker = declare_and_accept(apr, code, STAGES[1], applicant)
    wait_for(lambda: read_events_sync(infra, StageCompletedV1, marker), timeout=60, what="the marker stage")
    assert len(read_events_sync(infra, StageCompletedV1, case)) == 1
    assert [h["action"] for h in stage_of(apr, case, applicant)["history"]].count("completed") == 1
