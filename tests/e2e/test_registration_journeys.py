"""Company start-up journeys across real processes: registration, notifications and
the simulated departments, on the real broker and database."""

from __future__ import annotations

import httpx

from contracts.events.registration import CaseCompletedV1, StepRequestedV1
from servicekit.auth import Role
from tests.support.auth import bearer
from tests.support.events import read_events_sync
from tests.support.forms import company_form
from tests.support.waiting import wait_for


def open_case(reg, name: str) -> str:
    r = httpx.post(f"{reg.url}/cases", json={"form": company_form(name), "applicant_phone": "13912345678"},
                   headers=bearer("u-1"))
    assert r.status_code == 201, r.text
    case = r.json()["case_number"]
    r = httpx.post(f"{reg.url}/cases/{case}/window-check", json={}, headers=bearer("w-1", Role.WINDOW_STAFF))
    assert r.json()["status"] == "accepted", r.text
    return case


def case_of(reg, case: str) -> dict:
    return httpx.get(f"{reg.url}/cases/{case}", headers=bearer("u-1")).json()


def completed(reg, case):
    return (lambda: (body := case_of(reg, case))["status"] == "completed" and body)


def test_a_company_goes_from_the_form_to_a_completed_case(start_service, start_departments, unique):
    reg, ntf = start_service("registration"), start_service("notifications")
    start_departments()
    case = open_case(reg, f"兰州{unique}新材料有限公司")
    body = wait_for(completed(reg, case))
    assert all(s["status"] == "approved" and s["attempt"] == 1 for s in body["steps"])
    assert body["unified_social_credit_code"]
    messages = wait_for(lambda: httpx.get(f"{ntf.url}/messages", params={"case_number": case},
                                          headers=bearer("u-1")).json())
    assert messages and case in messages[0]["text"]


def test_tax_returns_the_case_the_applicant_fixes_one_field_and_it_completes(start_service, start_departments,
                                                                             unique, infra):
    reg = start_service("registration")
    start_departments("--return", "tax@1=tax.taxpayer_type")
    case = open_case(reg, f"嘉峪关{unique}钢构有限公司")
    returned = wait_for(lambda: {s["step"]: s for s in case_of(reg, case)["steps"]}["tax"]["status"] == "returned")
    assert returned
    r = httpx.post(f"{reg.url}/cases/{case}/corrections", headers=bearer("u-1"),
                   json={"step": "tax", "fields": {"tax.taxpayer_type": "general"}})
    assert r.status_code == 200, r.text
    body = wait_for(completed(reg, case))
    steps = {s["step"]: s for s in body["steps"]}
    assert steps["tax"]["attempt"] == 2 and steps["licence"]["attempt"] == 1
    requests = read_events_sync(infra, StepRequestedV1, case)
    assert sorted(e.step for e in requests) == ["licence", "seal", "social_security", "tax", "tax"]


def test_registration_killed_mid_case_completes_once_after_restart(start_service, start_departments, unique, infra):
    reg = start_service("registration")
    start_departments("--delay", "0.5")
    case = open_case(reg, f"白银{unique}矿业有限公司")
    wait_for(lambda: case_of(reg, case)["unified_social_credit_code"])  # licence issued, three steps under way
    reg.kill()  # SIGKILL: no shutdown, outbox rows and offsets as they were
    reg.start()
    body = wait_for(completed(reg, case), timeout=60)
    assert body["status"] == "completed"
    wait_for(lambda: read_events_sync(infra, CaseCompletedV1, case), what="the completion on the topic")
    # Marker: a case opened after the restart goes the same way (departments, consumer, outbox, relay)
    # to the same topic; once its completion is there, a duplicate of the first case's would be too.
    marker = open_case(reg, f"白银{unique}冶炼有限公司")
    wait_for(lambda: read_events_sync(infra, CaseCompletedV1, marker), timeout=60, what="the marker case's completion")
    assert len(read_events_sync(infra, CaseCompletedV1, case)) == 1
    assert [h["action"] for h in case_of(reg, case)["history"]].count("completed") == 1
