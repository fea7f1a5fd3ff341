"""办件查询: one case's timeline across services, through the console, over the real
registration app (in-process) with notifications and ratings answering by handler."""

from __future__ import annotations

import httpx
import pytest
from asgi_lifespan import LifespanManager

from registration.bootstrap import create_app as registration_app
from servicekit.principal import Principal, Role
from tests.support.auth import bearer
from tests.support.console import console_client
from tests.support.forms import company_form

pytestmark = pytest.mark.component


def _messages(request: httpx.Request) -> httpx.Response:
    number = request.url.params.get("case_number")
    return httpx.Response(200, json=[{
        "message_id": "m-1", "case_number": number, "channel": "sms", "address": "13912345678",
        "title": "申请已受理", "text": "您的申请已受理，联系电话 13912345678", "status": "delivered",
        "created_at": "2026-11-27T02:00:00Z", "delivered_at": "2026-11-27T02:00:01Z"}])


def _rating(request: httpx.Request) -> httpx.Response:
    return httpx.Response(404, json={"title": "Not Found", "status": 404})


async def _submitted_case(client: httpx.AsyncClient) -> str:
    r = await client.post("/cases", json={"form": company_form("兰州查询测试有限公司"), "applicant_phone": "13912345678"},
                          headers=bearer("u-1"))
    assert r.status_code == 201, r.text
    return str(r.json()["case_number"])


async def test_a_case_timeline_shows_steps_and_messages_and_masks_the_phone_for_a_supervisor(reg_settings):
    reg = registration_app(reg_settings)
    async with LifespanManager(reg), httpx.AsyncClient(transport=httpx.ASGITransport(app=reg),
                                                       base_url="http://reg") as direct:
        number = await _submitted_case(direct)
        async with console_client({"registration": reg, "notifications": _messages,
                                   "ratings": _rating}) as (client, login):
            login(Principal("sup-1", Role.SUPERVISOR))
            supervisor = await client.get("/lookup", params={"case_number": number})
            login(Principal("w-1", Role.WINDOW_STAFF))
            staff = await client.get("/lookup", params={"case_number": number})
            missing = await client.get("/lookup", params={"case_number": "QY20990101FFFFFFFF"})
            garbage = await client.get("/lookup", params={"case_number": "<script>alert(1)</script>"})
    assert supervisor.status_code == 200
    assert "兰州查询测试有限公司" in supervisor.text and "申请已受理" in supervisor.text
    assert "13912345678" not in supervisor.text and "139****5678" in supervisor.text
    assert "13912345678" in staff.text  # window staff call the applicant back
    assert missing.status_code == 404 and "没有找到办件" in missing.text
    assert garbage.status_code == 422 and "<script>alert(1)</script>" not in garbage.text
    assert 'id="e-case_number"' in garbage.text


async def test_lookup_still_shows_the_case_when_notifications_is_down(reg_settings):
    reg = registration_app(reg_settings)
    async with LifespanManager(reg), httpx.AsyncClient(transport=httpx.ASGITransport(app=reg),
                                                       base_url="http://reg") as direct:
        number = await _submitted_case(direct)
        async with console_client({"registration": reg, "ratings": _rating}) as (client, login):
            login(Principal("w-1", Role.WINDOW_STAFF))
            page = await client.get("/lookup", params={"case_number": number})
    assert page.status_code == 200 and number in page.text
    assert "notifications 暂时不可用" in page.text
