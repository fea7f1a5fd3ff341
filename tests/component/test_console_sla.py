"""The console's SLA board over the real registration and approvals apps (in-process)."""

from __future__ import annotations

import httpx
import pytest
from asgi_lifespan import LifespanManager

from approvals.bootstrap import create_app as approvals_app
from registration.bootstrap import create_app as registration_app
from servicekit.principal import Principal, Role
from tests.support.console import console_client

pytestmark = pytest.mark.component


def _cases(request: httpx.Request) -> httpx.Response:
    view = request.url.params.get("view")
    if request.url.path == "/cases":
        return httpx.Response(200, json=[{
            "case_number": "QY-1", "kind": "startup", "status": "accepted", "company_name": "兰州甲公司",
            "due_at": "2026-11-27T09:00:00Z", "overdue": view == "overdue", "helper_id": None,
            "steps": [{"step": "tax", "department": "tax", "status": "requested"}]}] if view == "overdue" else [])
    if request.url.path == "/stages":
        return httpx.Response(200, json=[])
    if request.url.path == "/cases/QY-1/helper":
        body = request.read().decode()
        if "nobody" in body:
            return httpx.Response(422, json={"title": "Unprocessable Content", "status": 422, "detail": "no such helper",
                                             "errors": [{"field": "helper_id", "message": "unknown helper",
                                                         "type": "value_error"}]})
        return httpx.Response(200, json={"case_number": "QY-1"})
    return httpx.Response(404, json={"title": "Not Found", "status": 404})


async def test_the_board_shows_an_overdue_case_with_its_department():
    async with console_client({"registration": _cases, "approvals": _cases}) as (client, login):
        login(Principal("sup-1", Role.SUPERVISOR))
        page = await client.get("/sla")
    assert page.status_code == 200
    assert "QY-1" in page.text and "税务局" in page.text and "已超时" in page.text


async def test_a_user_without_the_role_is_refused_and_an_anonymous_one_sent_to_login():
    async with console_client({"registration": _cases, "approvals": _cases}) as (client, login):
        anonymous = await client.get("/sla")
        login(Principal("a-1", Role.APPLICANT))
        refused = await client.get("/sla")
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login?next=/sla")
    assert refused.status_code == 403 and "无权访问" in refused.text
    assert "QY-1" not in refused.text


async def test_assigning_a_helper_checks_the_form_and_shows_the_services_refusal_beside_the_field():
    async with console_client({"registration": _cases, "approvals": _cases}) as (client, login):
        s = login(Principal("sup-1", Role.SUPERVISOR))
        bad = await client.post("/sla/registration/QY-1/helper", data={"csrf": s.csrf, "helper_id": "a b\u202e"})
        refused = await client.post("/sla/registration/QY-1/helper", data={"csrf": s.csrf, "helper_id": "nobody"})
        forged = await client.post("/sla/registration/QY-1/helper", data={"csrf": "x" * 43, "helper_id": "helper1"})
        done = await client.post("/sla/registration/QY-1/helper", data={"csrf": s.csrf, "helper_id": "helper1"})
        puts = [r for r in client.routing.calls if r.method == "PUT"]
    assert bad.status_code == 422 and 'id="e-helper_id"' in bad.text
    assert refused.status_code == 422 and "unknown helper" in refused.text
    assert forged.status_code == 403
    assert done.status_code == 303 and done.headers["location"] == "/sla?assigned=QY-1"
    assert len(puts) == 2 and all(r.headers.get("Idempotency-Key") for r in puts)  # never for the bad form


async def test_the_board_over_the_real_services_lists_what_they_list(reg_settings, apr_settings):
    reg, apr = registration_app(reg_settings), approvals_app(apr_settings)
    async with LifespanManager(reg), LifespanManager(apr), console_client(
            {"registration": reg, "approvals": apr}) as (client, login):
        login(Principal("sup-1", Role.SUPERVISOR))
        page = await client.get("/sla")
    assert page.status_code == 200
    assert "当前没有预警或超时的办件" in page.text  # fresh databases: nothing at risk, and no error


async def test_the_board_still_shows_one_service_when_the_other_is_down():
    async with console_client({"registration": _cases}) as (client, login):
        login(Principal("sup-1", Role.SUPERVISOR))
        page = await client.get("/sla")
    assert page.status_code == 200
    assert "QY-1" in page.text and "工程建设项目审批服务暂时没有应答" in page.text


async def test_a_bad_address_gets_a_page_naming_the_parameter_not_json():
    async with console_client({"registration": _cases, "approvals": _cases}) as (client, login):
        login(Principal("sup-1", Role.SUPERVISOR))
        page = await client.get("/sla/registration/%0A/helper")
        elsewhere = await client.get("/sla/nowhere/QY-1/helper")
    assert page.status_code == 422 and page.headers["content-type"].startswith("text/html")
    assert "case_number" in page.text and "地址有误" in page.text
    assert elsewhere.status_code == 422 and "service" in elsewhere.text
