"""Notifications end to end, every part its own process on the real broker and database:
the notifications service (uvicorn), the local provider gateways (HTTP SMS / push stand-in
and an SMTP server), and a partner agency's webhook receiver that verifies signatures
with the Standard Webhooks library and fails the first 3 tries of every webhook."""

from __future__ import annotations

from collections import Counter

import httpx
import pytest

from contracts.events import registration as reg
from devstack.gateways import GatewayProcess
from devstack.webhook_receiver import ReceiverProcess
from servicekit.auth import Role
from tests.support.auth import bearer
from tests.support.events import make, publish_sync
from tests.support.waiting import wait_for


@pytest.fixture
def gateways(tmp_path):
    gw = GatewayProcess(log_path=tmp_path / "gateways.log").start()
    yield gw
    gw.stop()


def test_a_step_reaches_phone_mailbox_and_agency_exactly_once(infra, unique, start_service, gateways, tmp_path):
    # A partner agency (tax) subscribes; its receiver is its own process and fails 3 times per webhook.
    receiver = ReceiverProcess(secret="", fail_first=3, log_path=tmp_path / "receiver.log")
    ntf = start_service(
        "notifications", **gateways.settings_env(),
        # the receiver is local: http and its address are allowed for this test only (production: https, public)
        NOTIFICATIONS_WEBHOOK_ALLOW_HTTP="true", NOTIFICATIONS_OUTBOUND_ALLOW=f'["127.0.0.1:{receiver.port}"]',
        NOTIFICATIONS_DEFAULT_QUIET_HOURS="off", NOTIFICATIONS_DELIVERY_POLL_SECONDS="0.2",
        NOTIFICATIONS_WEBHOOK_POLL_SECONDS="0.1", NOTIFICATIONS_WEBHOOK_JITTER="0",
        NOTIFICATIONS_WEBHOOK_RETRY_SCHEDULE_SECONDS="[0.2, 0.2, 0.2, 0.2, 0.2]")
    case, applicant = f"E2E{unique}", f"u-{unique}"
    r = httpx.post(f"{ntf.url}/subscriptions", headers=bearer("tax-system", Role.PARTNER_AGENCY, agency_id="tax"),
                   json={"event_types": [reg.StepRequestedV1.ce_type, reg.StepReturnedV1.ce_type],
                         # only this test's case: earlier tests' events on the shared broker stay out
                         "filters": {"case_number": case}, "webhook_url": receiver.url})
    assert r.status_code == 201, r.text
    receiver.secret = r.json()["secret"]
    receiver.start()
    try:
        _journey(infra, ntf, gateways, receiver, case, applicant)
    finally:
        receiver.stop()


def _journey(infra, ntf, gateways, receiver, case, applicant):
    # The applicant wants SMS and email.
    prefs = httpx.put(f"{ntf.url}/preferences/me", headers=bearer(applicant),
                      json={"channels": ["sms", "email"], "phone": "13912345678", "email": "fa.ren@example.cn"})
    assert prefs.status_code == 200, prefs.text

    reasons = [reg.FieldReason(field="tax.taxpayer_type", reason="纳税人类型与经营范围不符")]
    requested = make(reg.StepRequestedV1, case, step="tax", department="tax", attempt=1,
                    due_at="2026-03-04T16:00:00Z", form={"legal_representative_id": "620102199001011234"})
    returned = make(reg.StepReturnedV1, case, step="tax", department="tax", applicant_id=applicant, reasons=reasons)
    publish_sync(infra, requested, returned)

    # The registration step reaches the phone (SMS gateway) and the mailbox (SMTP server).
    [sms] = wait_for(lambda: [s for s in gateways.received(case_number=case, to="13912345678")],
                     what="SMS at the gateway")
    assert sms["channel"] == "sms" and sms["provider"] == "sms-a"
    assert sms["text"].startswith("【一窗通办】") and case in sms["text"] and "纳税人类型与经营范围不符" in sms["text"]
    [mail] = wait_for(lambda: gateways.mail(case_number=case), what="email at the SMTP server")
    assert mail["to"] == ["fa.ren@example.cn"] and case in mail["subject"] and "需要补正" in mail["subject"]
    assert "税务局退回税务登记及发票申领" in mail["text"] and "纳税人类型与经营范围不符" in mail["text"]

    # Duplicates: the same two records again, then a marker behind each on its own topic (same case, same
    # partition). Once the markers' messages and webhooks are out, those of any duplicate would be too.
    publish_sync(infra, requested, returned)
    marker_requested = make(reg.StepRequestedV1, case, step="tax", department="tax", attempt=2,
                            due_at="2026-03-04T16:00:00Z", form={"legal_representative_id": "620102199001011234"})
    marker_returned = make(reg.StepReturnedV1, case, step="tax", department="tax", applicant_id=applicant,
                           reasons=[reg.FieldReason(field="tax.invoice_type", reason="发票种类未选择")])
    publish_sync(infra, marker_requested, marker_returned)
    wait_for(lambda: [s for s in gateways.received(case_number=case) if "发票种类未选择" in s["text"]],
             what="the returned marker's SMS")
    wait_for(lambda: [s for s in gateways.received(case_number=case) if "第2次提交" in s["text"]],
             what="the requested marker's push")
    wait_for(lambda: [m for m in gateways.mail(case_number=case) if "发票种类未选择" in m["text"]],
             what="the returned marker's email")
    sent = gateways.received(case_number=case)
    texts = Counter(s["text"] for s in sent)
    # once each: the returned step and its marker (SMS), the step to review and its marker (push to the tax reviewers)
    assert len(texts) == 4 and set(texts.values()) == {1}, texts
    assert Counter(s["provider"] for s in sent) == {"sms-a": 2, "push-a": 2}
    assert len(gateways.mail(case_number=case)) == 2

    # The agency's receiver: every event exactly once, after 3 failed tries each, all signatures valid.
    markers = {marker_requested.event_id, marker_returned.event_id}

    def markers_in():
        got = receiver.received()
        return got if markers <= {e["event"]["id"] for e in got["events"]} else None

    got = wait_for(markers_in, what="the markers' webhooks taken by the receiver")
    ids = [e["event"]["id"] for e in got["events"]]
    assert sorted(ids) == sorted([requested.event_id, returned.event_id, *markers])
    assert sorted(got["attempts"].values()) == [4, 4, 4, 4] and got["rejected"] == 0 and got["duplicates"] == 0
    taken = next(e["event"] for e in got["events"] if e["event"]["id"] == requested.event_id)
    assert taken["data"]["form"]["legal_representative_id"] == "620102********1234"  # not entitled: masked

    # The status over the API, linked to the case.
    messages = httpx.get(f"{ntf.url}/messages", params={"case_number": case}, headers=bearer(applicant)).json()
    assert Counter((m["template"], m["channel"]) for m in messages) == {
        ("registration.step_returned@1", "sms"): 2, ("registration.step_returned@1", "email"): 2}
    assert all(m["status"] == "delivered" and m["case_number"] == case for m in messages)
