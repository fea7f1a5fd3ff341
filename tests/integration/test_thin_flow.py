"""A registration submitted over HTTP becomes an event through the outbox;
notifications consumes it; one trace id links the two."""

from __future__ import annotations

from notifications.bootstrap import create_app as notifications_app
from notifications.config import Settings as NotificationSettings
from registration.bootstrap import create_app as registration_app
from registration.config import Settings as RegistrationSettings
from servicekit.auth import Role
from servicekit.config import load
from tests.support.apps import eventually, running, token


async def test_submitted_application_reaches_notifications_in_one_trace(infra_env, unique):
    reg_settings = load(RegistrationSettings, mongodb_database=f"reg_{unique}")
    ntf_settings = load(NotificationSettings, mongodb_database=f"ntf_{unique}")
    async with running(registration_app(reg_settings)) as reg, running(notifications_app(ntf_settings)) as ntf:
        resp = await reg.post("/applications", json={"company_name": "兰州一窗科技有限公司", "applicant_phone": "13912345678"},
                              headers=token(reg_settings, "u-1"))
        assert resp.status_code == 201, resp.text
        case = resp.json()["application_id"]
        trace_id = resp.headers["X-Trace-Id"]

        async def delivered():
            r = await ntf.get("/messages", params={"case_number": case}, headers=token(ntf_settings, "u-1"))
            return r.json() if r.status_code == 200 and r.json() else None

        messages = await eventually(delivered)
        assert len(messages) == 1
        assert case in messages[0]["text"]
        assert messages[0]["trace_id"] == trace_id


async def test_invalid_application_names_every_bad_field(infra_env, unique):
    settings = load(RegistrationSettings, mongodb_database=f"reg_{unique}")
    async with running(registration_app(settings)) as reg:
        resp = await reg.post("/applications", json={"company_name": "x", "applicant_phone": "123"},
                              headers=token(settings, "u-1"))
        assert resp.status_code == 422
        assert resp.headers["content-type"].startswith("application/problem+json")
        fields = {e["field"] for e in resp.json()["errors"]}
        assert fields == {"company_name", "applicant_phone"}
        unauth = await reg.post("/applications", json={"company_name": "兰州一窗"})
        assert unauth.status_code == 401
        staff_only = await reg.post("/applications", json={"company_name": "兰州一窗"},
                                    headers=token(settings, "r-1", Role.REVIEWER, department="tax"))
        assert staff_only.status_code == 403
