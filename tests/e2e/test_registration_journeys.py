"""Company start-up journeys across real processes: registration, notifications and
the simulated departments, on the real broker and database."""

from __future__ import annotations

import time

import httpx

from contracts.events.registration import CaseCompletedV1, StepRequestedV1
from contracts.topics import topic_for
from servicekit.auth import Principal, Role, TokenCodec
from servicekit.config import ServiceSettings
from tests.support.forms import company_form

_codec = TokenCodec(ServiceSettings().jwt_secret, ServiceSettings().jwt_audience)


def auth(sub: str, role: Role = Role.APPLICANT, **kw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {_codec.issue(Principal(sub, role, **kw))}"}


def wait_for(fn, timeout: float = 30.0, interval: float = 0.2):
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"not reached in {timeout}s; last: {last!r}")


def open_case(reg, name: str) -> str:
    r = httpx.post(f"{reg.url}/cases", json={"form": company_form(name), "applicant_phone": "13912345678"},
                   headers=auth("u-1"))
    assert r.status_code == 201, r.text
    case = r.json()["case_number"]
    r = httpx.post(f"{reg.url}/cases/{case}/window-check", json={}, headers=auth("w-1", Role.WINDOW_STAFF))
    assert r.json()["status"] == "accepted", r.text
    return case


def case_of(reg, case: str) -> dict:
    return httpx.get(f"{reg.url}/cases/{case}", headers=auth("u-1")).json()


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
                                          headers=auth("u-1")).json())
    assert messages and case in messages[0]["text"]


def test_tax_returns_the_case_the_applicant_fixes_one_field_and_it_completes(start_service, start_departments,
                                                                             unique, infra):
    reg = start_service("registration")
    start_departments("--return", "tax@1=tax.taxpayer_type")
    case = open_case(reg, f"嘉峪关{unique}钢构有限公司")
    returned = wait_for(lambda: {s["step"]: s for s in case_of(reg, case)["steps"]}["tax"]["status"] == "returned")
    assert returned
    r = httpx.post(f"{reg.url}/cases/{case}/corrections", headers=auth("u-1"),
                   json={"step": "tax", "fields": {"tax.taxpayer_type": "general"}})
    assert r.status_code == 200, r.text
    body = wait_for(completed(reg, case))
    steps = {s["step"]: s for s in body["steps"]}
    assert steps["tax"]["attempt"] == 2 and steps["licence"]["attempt"] == 1
    requests = _records(infra, StepRequestedV1, case)
    assert sorted(r for r in requests) == ["licence", "seal", "social_security", "tax", "tax"]


def test_registration_killed_mid_case_completes_once_after_restart(start_service, start_departments, unique, infra):
    reg = start_service("registration")
    start_departments("--delay", "0.5")
    case = open_case(reg, f"白银{unique}矿业有限公司")
    wait_for(lambda: case_of(reg, case)["unified_social_credit_code"])  # licence issued, three steps under way
    reg.kill()  # SIGKILL: no shutdown, outbox rows and offsets as they were
    reg.start()
    body = wait_for(completed(reg, case), timeout=60)
    assert body["status"] == "completed"
    wait_for(lambda: len(_records(infra, CaseCompletedV1, case)) >= 1)
    time.sleep(2)  # anything duplicated would show up by now
    assert len(_records(infra, CaseCompletedV1, case)) == 1
    assert [h["action"] for h in case_of(reg, case)["history"]].count("completed") == 1


def _records(infra, event_cls, case: str) -> list[str]:
    """Steps (or ids) of the events of ``case`` on the topic, read with a plain consumer."""
    import asyncio

    from tests.support.kafka import read_all

    records = asyncio.run(read_all(infra.kafka_bootstrap, topic_for(event_cls).name))
    mine = [r for r in records if r.key == case.encode()]
    if event_cls is StepRequestedV1:
        import json

        return [json.loads(r.value)["step"] for r in mine]
    return [dict(r.headers)["ce_id"].decode() for r in mine]
