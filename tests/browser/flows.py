"""What the browser tests set up through the services' APIs (as the other systems would):
an application accepted at the window, a case completed by the departments."""

from __future__ import annotations

import httpx

from servicekit.auth import Role
from tests.support.auth import bearer
from tests.support.forms import company_form

DEPARTMENT_OF = {"licence": "market_supervision", "seal": "public_security", "tax": "tax",
                 "social_security": "human_resources_social_security"}
RESULTS = {"licence": {"licence_no": "YYZZ0001"}, "seal": {"seal_record_no": "GZBA0001"},
           "tax": {"invoice_approval_no": "FP0001"}, "social_security": {"social_insurance_unit_no": "SB0001"}}


def accepted_case(reg_url: str, company: str, *, staff: str = "window1", phone: str = "13912345678") -> str:
    r = httpx.post(f"{reg_url}/cases", headers=bearer("applicant1"),
                   json={"form": company_form(company), "applicant_phone": phone})
    assert r.status_code == 201, r.text
    number = str(r.json()["case_number"])
    r = httpx.post(f"{reg_url}/cases/{number}/window-check", json={}, headers=bearer(staff, Role.WINDOW_STAFF))
    assert r.status_code == 200 and r.json()["status"] == "accepted", r.text
    return number


def decide_all(reg_url: str, number: str) -> None:
    """Every department approves its step (the licence first, then the three in parallel)."""
    for step in ("licence", "seal", "tax", "social_security"):
        headers = bearer(f"r-{step}", Role.REVIEWER, department=DEPARTMENT_OF[step])
        r = httpx.post(f"{reg_url}/cases/{number}/steps/{step}/decision", headers=headers,
                       json={"decision": "approved", "result": RESULTS[step]})
        assert r.status_code == 200, r.text
