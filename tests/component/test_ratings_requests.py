"""Consultations, suggestions and complaints (咨询、建议、投诉) reach the department with a time limit
and every reply is an event for the person's phone; a complaint opens a ledger entry; a
rectification not fed back in 3 working days warns, then goes overdue (the kit's timers, the
injected clock), and statistics show what keeps the rates below 100%."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from contracts.events import ratings as rat
from ratings.bootstrap import create_app
from servicekit.auth import Role
from servicekit.clock import FrozenClock
from tests.component.test_ratings_flow import T0, completed
from tests.support.apps import eventually, running, token
from tests.support.events import publish, read_events


async def test_requests_replies_and_overdue_rectifications(infra, rat_settings, unique):
    s = rat_settings.model_copy(update={"sweep_interval_seconds": 0.2})
    clock = FrozenClock(T0)
    person = f"p-{unique}"
    async with running(create_app(s, clock=clock)) as client:
        r = await client.post("/requests", headers=token(s, person),
                              json={"kind": "complaint", "department": "tax", "text": "发票申领等待时间过长"})
        assert r.status_code == 201, r.text
        req = r.json()
        assert datetime.fromisoformat(req["due_at"]) == datetime(2026, 11, 9, 16, tzinfo=UTC)  # 5 working days
        [submitted] = await eventually(lambda: read_events(infra, rat.RequestSubmittedV1, req["request_id"]),
                                       what="the request for the department")
        assert submitted.department == "tax" and submitted.person_id == person
        # the complaint is in the ledger too
        [entry] = await eventually(lambda: read_events(infra, rat.LedgerEntryOpenedV1, req["request_id"]),
                                   what="the complaint's ledger entry")
        assert entry.kind == "complaint"
        # another department may not answer; the tax reviewer does
        r = await client.post(f"/requests/{req['request_id']}/reply", json={"text": "x"},
                              headers=token(s, "rv-ms", Role.REVIEWER, department="market_supervision"))
        assert r.status_code == 403, r.text
        r = await client.post(f"/requests/{req['request_id']}/reply", json={"text": "已安排专人办理，请于明日到税务窗口领取"},
                              headers=token(s, "rv-tax", Role.REVIEWER, department="tax"))
        assert r.status_code == 200 and r.json()["reply"], r.text
        [replied] = await eventually(lambda: read_events(infra, rat.RequestRepliedV1, req["request_id"]),
                                     what="the reply for the person's phone")
        assert replied.person_id == person and replied.within_time_limit and "税务窗口" in replied.reply
        r = await client.get(f"/requests/{req['request_id']}", headers=token(s, "someone-else"))
        assert r.status_code == 404

        # a bad rating called back, then nobody feeds back: warning, then overdue
        await publish(infra, completed(f"OD{unique}", f"u-{unique}", staff=None))
        invited = await eventually(lambda: read_events(infra, rat.RatingInvitedV1, f"OD{unique}"), what="invitation")
        tok = invited[0].rating_url.split("token=")[1]
        assert (await client.post("/ratings/by-token", json={"token": tok, "level": "dissatisfied"})).status_code == 200
        [opened] = await eventually(lambda: read_events(infra, rat.LedgerEntryOpenedV1, f"OD{unique}"), what="entry")
        assert opened.owner_id == s.default_ledger_owner
        r = await client.post(f"/ledger/{opened.entry_id}/callback", headers=token(s, "sv", Role.SUPERVISOR),
                              json={"outcome": "情况属实", "reasonable": True})
        due = datetime.fromisoformat(r.json()["feedback_due_at"])
        clock.set(due - timedelta(hours=8))  # the warning: 8 hours before
        [warning] = await eventually(lambda: read_events(infra, rat.RectificationDueWarningV1, f"OD{unique}"),
                                     what="the due warning")
        assert warning.owner_id == s.default_ledger_owner and warning.due_at == due
        clock.set(due)
        [overdue] = await eventually(lambda: read_events(infra, rat.RectificationOverdueV1, f"OD{unique}"),
                                     what="overdue")
        assert overdue.entry_id == opened.entry_id
        stats = (await client.get("/statistics", params={"month": "2026-11"},
                                  headers=token(s, "sv", Role.SUPERVISOR))).json()
        # the complaint's entry is not called back yet, and neither entry is answered: both rates below 100%,
        # naming the cases that keep them there; the request itself was replied to
        assert stats["not_called_back"] == [req["request_id"]] and stats["callback_rate"] == 0.5
        assert sorted(stats["not_replied"]) == sorted([req["request_id"], f"OD{unique}"]) and stats["reply_rate"] == 0.0
        assert stats["overdue_by_department"] == {"unknown": 1} and stats["request_reply_rate"] == 1.0

        # the complaint has no legal basis: called back, then explained; the explanation is for the person's phone
        sv = token(s, "sv", Role.SUPERVISOR)
        r = await client.post(f"/ledger/{entry.entry_id}/explanation", headers=sv, json={"text": "x"})
        assert r.status_code == 409, r.text  # an explanation follows a callback
        await client.post(f"/ledger/{entry.entry_id}/callback", headers=sv,
                          json={"outcome": "诉求为要求当日开具专用发票，无法律依据", "reasonable": False})
        r = await client.post(f"/ledger/{entry.entry_id}/explanation", headers=sv,
                              json={"text": "依据规定，专用发票需核定后开具，已告知办理流程"})
        assert r.status_code == 200 and r.json()["status"] == "answered", r.text
        [explained] = await eventually(lambda: read_events(infra, rat.ExplanationGivenV1, req["request_id"]),
                                       what="the explanation")
        assert explained.applicant_id == person and "专用发票" in explained.explanation
        stats = (await client.get("/statistics", params={"month": "2026-11"}, headers=sv)).json()
        assert stats["callback_rate"] == 1.0 and stats["not_called_back"] == []
        assert stats["reply_rate"] == 0.5 and stats["not_replied"] == [f"OD{unique}"]
