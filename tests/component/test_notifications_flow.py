"""The notifications service in-process over HTTP, on the real broker and database, with
the local provider gateways (HTTP SMS / push / WeChat stand-in and an SMTP server) running
as a separate process: channel preferences, the case file, staff routing, failover,
rejection alerts, quiet hours and the message status API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from contracts import topic_for
from contracts.events import registration as reg
from contracts.events.notifications import MessageDeliveryFailedV1
from devstack.gateways import GatewayProcess
from notifications.bootstrap import create_app
from notifications.config import Settings
from servicekit.auth import Role
from servicekit.clock import CN_TZ, FrozenClock
from servicekit.config import load
from tests.support.apps import running
from tests.support.auth import bearer
from tests.support.events import make, publish
from tests.support.kafka import read_all
from tests.support.waiting import eventually


@pytest.fixture(scope="module")
def gateways(tmp_path_factory) -> Iterator[GatewayProcess]:
    gw = GatewayProcess(log_path=tmp_path_factory.mktemp("gw") / "gateways.log").start()
    yield gw
    gw.stop()


@pytest.fixture
def settings(infra_env, unique, gateways) -> Settings:
    return load(Settings, mongodb_database=f"ntf_{unique}", default_quiet_hours="off", delivery_poll_seconds=0.2,
                delivery_backoff_base_seconds=0.05, delivery_backoff_cap_seconds=0.2,
                **gateways.provider_settings())


async def messages(client, case, who="u-1", role=Role.APPLICANT, **kw):
    r = await client.get("/messages", params={"case_number": case}, headers=bearer(who, role, **kw))
    assert r.status_code == 200, r.text
    return r.json()


async def all_final(client, case, count, who="u-1", role=Role.APPLICANT, **kw):
    async def check():
        got = await messages(client, case, who, role, **kw)
        return got if len(got) == count and all(m["status"] in ("delivered", "failed", "expired") for m in got) else None

    return await eventually(check, timeout=30)


def submitted(case: str, applicant: str = "u-1", phone: str | None = "13912345678") -> reg.ApplicationSubmittedV1:
    return make(reg.ApplicationSubmittedV1, case, application_id=case, company_name="兰州一窗科技有限公司",
               applicant_id=applicant, applicant_phone=phone, channel="app")


async def test_the_applicant_hears_each_step_on_every_channel_they_chose(infra_env, unique, settings, gateways):
    case = f"NC{unique}"
    async with running(create_app(settings)) as ntf:
        await publish(infra_env.kafka_bootstrap, submitted(case))
        [first] = await all_final(ntf, case, 1)
        assert (first["channel"], first["status"], first["address"]) == ("sms", "delivered", "139****5678")

        me = bearer("u-1")
        bad = await ntf.put("/preferences/me", json={"channels": ["email"], "email": "nope"}, headers=me)
        assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
        assert {e["field"] for e in bad.json()["errors"]} == {"email"}
        r = await ntf.put("/preferences/me", headers=me, json={
            "channels": ["sms", "email", "wechat"], "email": "zhang.san@example.cn", "wechat_openid": "oWx-u1",
            "quiet_hours": "off"})
        assert r.status_code == 200, r.text
        assert r.json()["phone"] == "13912345678"  # known from the application

        # StepApproved names no applicant: the case file built from the submission does.
        await publish(infra_env.kafka_bootstrap,
                      make(reg.StepApprovedV1, case, step="licence", department="market_supervision"))
        got = await all_final(ntf, case, 4)
        assert sorted(m["channel"] for m in got) == ["email", "sms", "sms", "wechat"]
        assert all(m["status"] == "delivered" and m["attempts"] == 1 for m in got)

    sms = [s for s in gateways.received(case_number=case) if s["channel"] == "sms"]
    assert len(sms) == 2 and all(s["to"] == "13912345678" for s in sms)
    assert any("营业执照登记已由市场监管局办结" in s["text"] and case in s["text"] for s in sms)
    [mail] = gateways.mail(case_number=case)
    assert mail["to"] == ["zhang.san@example.cn"] and case in mail["subject"] and "营业执照登记" in mail["text"]
    [wechat] = gateways.received(provider="wechat", case_number=case)
    assert wechat["to"] == "oWx-u1" and wechat["data"]["character_string2"]["value"] == case


async def test_message_status_is_readable_and_scoped_to_its_recipient(infra_env, unique, settings, gateways):
    case = f"NS{unique}"
    async with running(create_app(settings)) as ntf:
        await publish(infra_env.kafka_bootstrap, submitted(case, applicant="u-9"))
        [m] = await all_final(ntf, case, 1, who="u-9")
        one = await ntf.get(f"/messages/{m['message_id']}", headers=bearer("u-9"))
        assert one.status_code == 200
        body = one.json()
        assert body["case_number"] == case and body["template"] == "registration.submitted@1"
        assert [h["status"] for h in body["history"]] == ["accepted", "sending", "delivered"]
        other = await ntf.get(f"/messages/{m['message_id']}", headers=bearer("u-8"))
        assert other.status_code == 404
        assert await messages(ntf, case, who="u-8") == []
        staff = await messages(ntf, case, who="w-1", role=Role.WINDOW_STAFF)
        assert [x["message_id"] for x in staff] == [m["message_id"]]
        mine = await ntf.get("/messages/mine", headers=bearer("u-9"))
        assert [x["message_id"] for x in mine.json()] == [m["message_id"]]
        partner = await ntf.get("/messages", params={"case_number": case},
                                headers=bearer("p-1", Role.PARTNER_AGENCY, agency_id="tax"))
        assert partner.status_code == 403


async def test_sms_fails_over_to_the_second_provider(infra_env, unique, settings, gateways):
    case = f"NF{unique}"
    gateways.fail("sms-a", count=2, status=503)
    async with running(create_app(settings)) as ntf:
        await publish(infra_env.kafka_bootstrap, submitted(case))
        await all_final(ntf, case, 1)
        reasons = [reg.FieldReason(field="tax.taxpayer_type", reason="纳税人类型与经营范围不符")]
        await publish(infra_env.kafka_bootstrap, make(reg.StepReturnedV1, case, step="tax", department="tax",
                                                      applicant_id="u-1", reasons=reasons))
        got = await all_final(ntf, case, 2)
    returned = next(m for m in got if m["template"] == "registration.step_returned@1")
    first = next(m for m in got if m is not returned)
    # the submission took both injected failures on sms-a and went out via sms-b on its 3rd attempt
    assert (first["status"], first["attempts"], first["provider"]) == ("delivered", 3, "sms-b")
    assert (returned["status"], returned["attempts"], returned["provider"]) == ("delivered", 1, "sms-a")
    assert "HTTP 503" in " ".join(h["note"] for h in first["history"])
    sent = gateways.received(case_number=case)
    assert sorted(s["provider"] for s in sent) == ["sms-a", "sms-b"]
    assert any("纳税人类型与经营范围不符" in s["text"] for s in sent)


async def test_a_rejected_address_fails_once_and_raises_an_alert(infra_env, unique, settings, gateways):
    case = f"NR{unique}"
    async with running(create_app(settings)) as ntf:
        r = await ntf.put("/preferences/me", headers=bearer("u-5"),
                          json={"channels": ["email"], "email": "nobody@example.cn"})
        assert r.status_code == 200
        await publish(infra_env.kafka_bootstrap, submitted(case, applicant="u-5", phone=None))
        [m] = await all_final(ntf, case, 1, who="u-5")
        assert (m["status"], m["attempts"]) == ("failed", 1)
        assert "refused" in m["last_error"]

    async def alert():
        recs = await read_all(infra_env.kafka_bootstrap, topic_for(MessageDeliveryFailedV1).name)
        return [r for r in recs if r.key == case.encode()]

    [rec] = await eventually(alert)
    event = MessageDeliveryFailedV1.from_wire(rec.value, dict(rec.headers))
    assert (event.message_id, event.status, event.channel) == (m["message_id"], "failed", "email")
    assert gateways.mail(case_number=case) == []


async def test_staff_hear_what_needs_them(infra_env, unique, settings, gateways):
    case = f"NT{unique}"
    due = datetime(2026, 3, 4, 16, 0, tzinfo=UTC)
    reviewer = bearer(f"r-{unique}", Role.REVIEWER, department="tax")
    async with running(create_app(settings)) as ntf:
        r = await ntf.put("/preferences/me", headers=reviewer, json={"channels": ["sms"], "phone": "13700000001"})
        assert r.status_code == 200 and r.json()["role"] == "reviewer"
        await publish(infra_env.kafka_bootstrap,
                      make(reg.StepRequestedV1, case, step="tax", department="tax", attempt=1, due_at=due, form={}),
                      make(reg.StepRequestedV1, case, step="seal", department="public_security", attempt=1, due_at=due,
                           form={}),
                      make(reg.DeadlineWarningV1, case, due_at=due, pending_steps=["tax", "seal"], helper_id="h-1"))
        staff = await all_final(ntf, case, 4, who="s-1", role=Role.SUPERVISOR)
        by = {m["recipient_id"]: m for m in staff}
        assert by[f"r-{unique}"]["channel"] == "sms" and "税务登记" in by[f"r-{unique}"]["text"]
        # nobody of public security registered: the group's push topic gets it
        assert by["reviewers:public_security"]["channel"] == "app_push"
        assert by["h-1"]["template"] == "staff.deadline_warning@1" and by["supervisors"]["urgent"]
        inbox = await ntf.get("/messages/mine", headers=bearer("p-9", Role.REVIEWER, department="public_security"))
        assert [m["recipient_id"] for m in inbox.json()] == ["reviewers:public_security"]
    assert [s["to"] for s in gateways.received(case_number=case, provider="sms-a")] == ["13700000001"]
    assert {s["to"] for s in gateways.received(case_number=case, provider="push-a")} == {
        "reviewers:public_security", "h-1", "supervisors"}


async def test_non_urgent_messages_wait_for_the_end_of_quiet_hours(infra_env, unique, gateways):
    settings = load(Settings, mongodb_database=f"ntf_{unique}", default_quiet_hours="22:00-08:00",
                    delivery_poll_seconds=0.2, **gateways.provider_settings())
    clock = FrozenClock(datetime(2026, 3, 4, 23, 0, tzinfo=CN_TZ))
    case = f"NQ{unique}"
    async with running(create_app(settings, clock=clock)) as ntf:
        await publish(infra_env.kafka_bootstrap, submitted(case))  # non-urgent: waits

        async def waiting():
            got = await messages(ntf, case)
            return got if got and got[0]["status"] == "accepted" else None

        [held] = await eventually(waiting)
        assert held["next_attempt_at"].startswith("2026-03-05T00:00:00")  # 08:00 Beijing
        reasons = [reg.FieldReason(field="seal.style", reason="印章样式不符合要求")]
        urgent = make(reg.StepReturnedV1, case, step="seal", department="public_security", applicant_id="u-1",
                      reasons=reasons)
        await publish(infra_env.kafka_bootstrap, urgent)  # urgent: goes now

        async def urgent_sent():
            got = await messages(ntf, case)
            return got if len(got) == 2 and any(m["status"] == "delivered" for m in got) else None

        got = await eventually(urgent_sent)
        assert {m["template"]: m["status"] for m in got} == {"registration.submitted@1": "accepted",
                                                              "registration.step_returned@1": "delivered"}
        assert len(gateways.received(case_number=case)) == 1
        clock.set(datetime(2026, 3, 5, 8, 0, tzinfo=CN_TZ))  # the poller sweeps with the service's clock
        await all_final(ntf, case, 2)
    assert len(gateways.received(case_number=case)) == 2
