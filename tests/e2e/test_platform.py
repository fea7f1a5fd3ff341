"""The platform as processes: every service comes up ready; a submission reaches
notifications through the real broker in one trace."""

from __future__ import annotations

import httpx

from contracts.topics import SERVICES
from tests.support.auth import bearer
from tests.support.forms import company_form
from tests.support.waiting import wait_for


def test_every_service_is_live_ready_and_documented(start_service):
    for name in SERVICES:
        svc = start_service(name)
        assert httpx.get(f"{svc.url}/healthz").json()["status"] == "ok"
        ready = httpx.get(f"{svc.url}/readyz").json()
        assert ready["broker"] is True and ready["database"] is True
        assert httpx.get(f"{svc.url}/openapi.json").json()["info"]["title"].startswith("One Window")


def test_submission_reaches_the_applicants_phone_queue_in_one_trace(start_service):
    reg, ntf = start_service("registration"), start_service("notifications")
    resp = httpx.post(f"{reg.url}/cases", json={"form": company_form("兰州黄河一窗贸易有限公司")},
                      headers=bearer("u-42"))
    assert resp.status_code == 201, resp.text
    case, trace_id = resp.json()["case_number"], resp.headers["X-Trace-Id"]
    messages = wait_for(lambda: httpx.get(f"{ntf.url}/messages", params={"case_number": case},
                                          headers=bearer("u-42")).json(), timeout=20, what="the applicant's message")
    assert [m["trace_id"] for m in messages] == [trace_id]
    assert "兰州黄河一窗贸易有限公司" in messages[0]["text"]
    # another applicant does not see it
    assert httpx.get(f"{ntf.url}/messages", params={"case_number": case}, headers=bearer("u-7")).json() == []
