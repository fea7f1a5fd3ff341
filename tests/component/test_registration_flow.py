"""The registration service in-process over HTTP, with simulated departments on the
real broker and the real database."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import pytest

from devstack.simulators import Script, SimulatorSettings, build
from registration.bootstrap import create_app
from registration.config import Settings
from servicekit.auth import Role
from servicekit.clock import FrozenClock
from servicekit.config import load
from servicekit.outbox import find_events
from tests.support.apps import running
from tests.support.auth import bearer
from tests.support.forms import company_form, id_number
from tests.support.waiting import eventually


@contextlib.asynccontextmanager
async def departments(script: Script | None = None):
    broker = build(load(SimulatorSettings), script or Script())
    await broker.start()
    try:
        yield
    finally:
        await broker.stop()


@pytest.fixture
def settings(infra_env, unique) -> Settings:
    return load(Settings, mongodb_database=f"reg_{unique}", sweep_interval_seconds=0.2)


APPLICANT = bearer("u-1")
STAFF = bearer("w-1", Role.WINDOW_STAFF)


async def submit_and_accept(client, name, **form):
    r = await client.post("/cases", json={"form": company_form(name, **form), "applicant_phone": "13912345678"},
                          headers=APPLICANT)
    assert r.status_code == 201, r.text
    case = r.json()["case_number"]
    r = await client.post(f"/cases/{case}/window-check", json={}, headers=STAFF)
    assert r.status_code == 200 and r.json()["status"] == "accepted", r.text
    return case


async def status_of(client, case):
    r = await client.get(f"/cases/{case}", headers=APPLICANT)
    assert r.status_code == 200, r.text
    return r.json()


async def test_form_to_completed_case_with_departments_answering(settings, unique):
    async with running(create_app(settings)) as reg, departments():
        case = await submit_and_accept(reg, f"兰州{unique}科技有限公司")

        async def completed():
            body = await status_of(reg, case)
            return body if body["status"] == "completed" else None

        body = await eventually(completed, timeout=30)
        assert {s["step"]: s["status"] for s in body["steps"]} == dict.fromkeys(
            ["licence", "seal", "tax", "social_security"], "approved")
        code = body["unified_social_credit_code"]
        assert code and code[2:8] == "620102"
        assert [h["action"] for h in body["history"]][:4] == ["submitted", "accepted", "licence_requested",
                                                               "licence_approved"]
        assert body["history"][-1]["action"] == "completed"
        # every applicant-facing event numbered in the case's order, from the case's own counter
        rows = await find_events(reg.kit.db, key=case)
        numbered = [int(r["headers"]["ce_caseseq"]) for r in rows if "ce_caseseq" in r["headers"]]
        assert numbered == list(range(1, len(numbered) + 1)) and len(numbered) >= 8
        assert rows[-1]["topic"] == "registration.case-completed.v1" and numbered[-1] == len(numbered)
        assert await reg.kit.db["case_sequences"].count_documents({}) == 0  # no counter written apart
        # a second company cannot take the same name
        r = await reg.post("/cases", json={"form": company_form(f"兰州{unique}科技有限公司")}, headers=APPLICANT)
        assert r.status_code == 409 and r.json()["errors"][0]["field"] == "company_name"


async def test_idempotent_submission_and_applicant_scoping(settings, unique):
    async with running(create_app(settings)) as reg:
        body = {"form": company_form(f"陇原{unique}贸易有限公司")}
        first = await reg.post("/cases", json=body, headers={**APPLICANT, "Idempotency-Key": "k-1"})
        again = await reg.post("/cases", json=body, headers={**APPLICANT, "Idempotency-Key": "k-1"})
        assert first.status_code == again.status_code == 201  # the first answer, replayed
        assert again.headers["idempotent-replayed"] == "true" and again.content == first.content
        assert await reg.kit.db["cases"].count_documents({}) == 1
        case = first.json()["case_number"]
        other = await reg.get(f"/cases/{case}", headers=bearer("u-2"))
        assert other.status_code == 404
        assert (await reg.get(f"/cases/{case}", headers=STAFF)).status_code == 200
        r = await reg.post("/cases", json={"form": company_form(f"陇南{unique}茶业有限公司")}, headers=STAFF)
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
        assert r.json()["errors"] == [{"field": "applicant_id", "message": "required when staff submit", "type": "role_rule"}]


async def test_invalid_form_names_every_field_and_stores_nothing(settings, unique):
    async with running(create_app(settings)) as reg:
        bad = company_form("x", registered_capital="-1", legal_representative={"name": "", "id_number": "123"})
        r = await reg.post("/cases", json={"form": bad}, headers=APPLICANT)
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
        fields = {e["field"] for e in r.json()["errors"]}
        assert {"form.company_name", "form.registered_capital", "form.legal_representative.name",
                "form.legal_representative.id_number"} <= fields
        assert await reg.kit.db["cases"].count_documents({}) == 0
        assert await reg.kit.db["outbox"].count_documents({}) == 0


async def test_missing_materials_listed_at_once_then_supplemented(settings, unique):
    async with running(create_app(settings)) as reg:
        r = await reg.post("/cases", json={"form": company_form(f"金城{unique}餐饮有限公司", materials=[])},
                           headers=APPLICANT)
        case = r.json()["case_number"]
        r = await reg.post(f"/cases/{case}/window-check", json={}, headers=STAFF)
        assert r.json()["status"] == "incomplete" and len(r.json()["missing"]) == 4
        r = await reg.post(f"/cases/{case}/materials", headers=APPLICANT, json={
            "materials": ["legal_representative_id", "address_proof", "articles_of_association", "investor_ids"]})
        assert r.json()["status"] == "submitted"
        r = await reg.post(f"/cases/{case}/window-check", json={}, headers=STAFF)
        assert r.json()["status"] == "accepted" and r.json()["due_at"]


async def test_reviewers_act_only_on_their_department_and_correction_loop(settings, unique):
    async with running(create_app(settings)) as reg:
        case = await submit_and_accept(reg, f"敦煌{unique}文化有限公司")
        tax = bearer("r-tax", Role.REVIEWER, department="tax")
        market = bearer("r-ms", Role.REVIEWER, department="market_supervision")
        r = await reg.post(f"/cases/{case}/steps/licence/decision", json={"decision": "approved"}, headers=tax)
        assert r.status_code == 403
        r = await reg.post(f"/cases/{case}/steps/licence/decision", json={"decision": "approved"}, headers=market)
        assert r.status_code == 200 and r.json()["unified_social_credit_code"]
        r = await reg.post(f"/cases/{case}/steps/tax/decision", headers=tax, json={
            "decision": "returned", "reasons": [{"field": "tax.taxpayer_type", "reason": "应登记为一般纳税人"}]})
        assert {s["step"]: s["status"] for s in r.json()["steps"]}["tax"] == "returned"
        r = await reg.post(f"/cases/{case}/corrections", headers=APPLICANT,
                           json={"step": "tax", "fields": {"tax.taxpayer_type": "general", "company_name": "改名有限公司"}})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "company_name"
        r = await reg.post(f"/cases/{case}/corrections", headers=APPLICANT,
                           json={"step": "tax", "fields": {"tax.taxpayer_type": "general"}})
        steps = {s["step"]: s for s in r.json()["steps"]}
        assert steps["tax"]["status"] == "requested" and steps["tax"]["attempt"] == 2
        assert steps["licence"]["attempt"] == 1
        r = await reg.post(f"/cases/{case}/steps/tax/decision", json={"decision": "approved", "attempt": 1}, headers=tax)
        assert r.status_code == 409  # an answer to the superseded request


async def test_deadline_warning_and_overdue_are_visible_and_fire_once(infra_env, unique):
    # Thursday 26 Nov 2026 10:00 Beijing time: due at the end of Friday 27 Nov.
    clock = FrozenClock(datetime(2026, 11, 26, 2, 0, tzinfo=UTC))
    settings = load(Settings, mongodb_database=f"reg_{unique}", sweep_interval_seconds=0.1)
    async with running(create_app(settings, clock=clock)) as reg:
        case = await submit_and_accept(reg, f"天水{unique}果业有限公司")
        helper = bearer("h-1", Role.HELPER)
        r = await reg.put(f"/cases/{case}/helper", json={"helper_id": "h-1"},
                          headers=bearer("s-1", Role.SUPERVISOR))
        assert r.json()["helper_id"] == "h-1"
        assert [c["case_number"] for c in (await reg.get("/cases", headers=helper)).json()] == []
        clock.set(datetime(2026, 11, 27, 13, 0, tzinfo=UTC))  # Fri 21:00 local: 3 h left
        at_risk = (await reg.get("/cases", params={"view": "at_risk"}, headers=helper)).json()
        assert [c["case_number"] for c in at_risk] == [case]

        async def history_has(action):
            return action in [h["action"] for h in (await status_of(reg, case))["history"]]

        await eventually(lambda: history_has("deadline_warning"))
        actions = [h["action"] for h in (await status_of(reg, case))["history"]]
        assert actions.index("licence_re_requested") < actions.index("deadline_warning")  # asked again first
        clock.set(datetime(2026, 11, 27, 16, 1, tzinfo=UTC))  # past midnight Friday local
        await eventually(lambda: history_has("overdue"))
        overdue = (await reg.get("/cases", params={"view": "overdue"}, headers=helper)).json()
        assert [c["case_number"] for c in overdue] == [case] and overdue[0]["overdue"] is True
        for topic, n in [("registration.step-requested.v1", 2), ("registration.deadline-warning.v1", 1),
                         ("registration.case-overdue.v1", 1)]:
            assert len(await find_events(reg.kit.db, key=case, topic=topic)) == n, topic
        assert (await reg.get("/cases", headers=APPLICANT)).status_code == 403


async def test_id_numbers_and_division_codes_are_checked_each_refusal_naming_what_is_wrong(settings, unique):
    async with running(create_app(settings)) as reg:
        person = {"name": "赵六", "id_number": "620102197001011234"}  # born before 620102 existed: valid
        r = await reg.post("/cases", headers=APPLICANT,
                           json={"form": company_form(f"天水{unique}果业有限公司", legal_representative=person)})
        assert r.status_code == 201, r.text
        bad = company_form(f"张掖{unique}农业有限公司", address={"division_code": "899999", "detail": "甘州区1号"},
                           legal_representative={"name": "赵六", "id_number": "620102197001011235"},
                           employees=[{"name": "钱七", "id_number": id_number("19700231")},
                                      {"name": "孙八", "id_number": id_number(region="899999")}])
        r = await reg.post("/cases", json={"form": bad}, headers=APPLICANT)
        assert r.status_code == 422, r.text
        errors = {e["field"]: e["message"] for e in r.json()["errors"]}
        assert "899999 is not an administrative division code" in errors["form.address.division_code"]
        assert "wrong check character" in errors["form.legal_representative.id_number"]
        assert "birth date 19700231 is not a date" in errors["form.employees.0.id_number"]
        assert "region code 899999" in errors["form.employees.1.id_number"]


async def test_a_reviewer_returns_only_its_fields_and_a_new_name_is_checked_held_and_relicensed(settings, unique):
    async with running(create_app(settings)) as reg:
        other = await submit_and_accept(reg, f"酒泉{unique}新能源有限公司")
        case = await submit_and_accept(reg, f"武威{unique}文旅有限公司")
        market = bearer("r-ms", Role.REVIEWER, department="market_supervision")
        tax = bearer("r-tax", Role.REVIEWER, department="tax")
        r = await reg.post(f"/cases/{other}/steps/licence/decision", json={"decision": "approved"}, headers=market)
        r = await reg.post(f"/cases/{other}/steps/tax/decision", headers=tax, json={
            "decision": "returned", "reasons": [{"field": "company_name", "reason": "与税务登记不一致"}]})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reasons.0.field", r.text
        assert "company_name" in r.json()["errors"][0]["message"]
        assert {s["step"]: s["status"] for s in (await status_of(reg, other))["steps"]}["tax"] == "requested"
        r = await reg.post(f"/cases/{case}/steps/licence/decision", headers=market, json={
            "decision": "returned", "reasons": [{"field": "company_name", "reason": "名称含禁用字词"}]})
        assert r.status_code == 200, r.text
        r = await reg.post(f"/cases/{case}/corrections", headers=APPLICANT,
                           json={"step": "licence", "fields": {"company_name": f"酒泉{unique}新能源有限公司"}})
        assert r.status_code == 409 and r.json()["errors"][0]["field"] == "company_name", r.text
        r = await reg.post(f"/cases/{case}/corrections", headers=APPLICANT,
                           json={"step": "licence", "fields": {"company_name": f"武威{unique}文化旅游有限公司"}})
        assert r.status_code == 200, r.text
        licence = {s["step"]: s for s in r.json()["steps"]}["licence"]
        assert licence["status"] == "requested" and licence["attempt"] == 2
        assert r.json()["company_name"] == f"武威{unique}文化旅游有限公司"
        r = await reg.post("/cases", json={"form": company_form(f"武威{unique}文旅有限公司")}, headers=bearer("u-9"))
        assert r.status_code == 201, r.text  # the old name was released


async def test_only_listed_materials_are_taken_and_window_staff_may_supplement(settings, unique):
    async with running(create_app(settings)) as reg:
        r = await reg.post("/cases", json={"form": company_form(f"白银{unique}矿业有限公司", materials=[])},
                           headers=APPLICANT)
        case = r.json()["case_number"]
        r = await reg.post(f"/cases/{case}/window-check", json={}, headers=STAFF)
        assert r.json()["status"] == "incomplete"
        r = await reg.post(f"/cases/{case}/materials", json={"materials": ["foo"]}, headers=APPLICANT)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "materials.0", r.text
        assert "'foo'" in r.json()["errors"][0]["message"]
        assert (await status_of(reg, case))["status"] == "incomplete"
        r = await reg.post(f"/cases/{case}/materials", headers=bearer("w-2", Role.WINDOW_STAFF), json={
            "materials": ["legal_representative_id", "address_proof", "articles_of_association", "investor_ids"]})
        assert r.status_code == 200 and r.json()["status"] == "submitted", r.text
        r = await reg.post(f"/cases/{case}/window-check", json={}, headers=STAFF)
        assert r.json()["status"] == "accepted"
