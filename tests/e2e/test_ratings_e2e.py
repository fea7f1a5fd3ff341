"""好差评 end to end, every part its own process on the real broker and database: registration,
the simulated departments, ratings, notifications and the local SMS gateway. A company case
completes → the applicant's phone gets the rating link → the link rates the case, badly → a
ledger entry for the window's owner (told by SMS) → the callback → the clock (a file the
ratings process reads) moves two days on, inside the 3 working days → the rectification
feedback reaches the applicant's phone."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import httpx
import pytest

from devstack.gateways import GatewayProcess
from servicekit.auth import Role
from servicekit.clock import CN_TZ
from servicekit.fileclock import FileClock
from tests.support.auth import bearer
from tests.support.forms import company_form
from tests.support.waiting import wait_for

APPLICANT_PHONE, OWNER_PHONE = "13912345678", "13700001111"


@pytest.fixture
def gateways(tmp_path):
    gw = GatewayProcess(log_path=tmp_path / "gateways.log").start()
    yield gw
    gw.stop()


def test_a_bad_rating_is_called_back_and_answered_on_the_phone(start_service, start_departments, gateways, unique,
                                                               tmp_path):
    clock_file = tmp_path / "ratings-clock"
    applicant, staff, owner = f"u-{unique}", f"w-{unique}", f"owner-{unique}"
    reg = start_service("registration")
    rat = start_service("ratings", RATINGS_CLOCK_FILE=str(clock_file))
    ntf = start_service("notifications", **gateways.settings_env(), NOTIFICATIONS_DEFAULT_QUIET_HOURS="off",
                        NOTIFICATIONS_DELIVERY_POLL_SECONDS="0.2")
    start_departments()

    # the roster: the window, its staff member and the owner of its bad ratings; the owner's phone
    r = httpx.put(f"{rat.url}/windows/w1", headers=bearer("op", Role.OPERATOR),
                  json={"name": "综合受理1号窗口", "staff": [staff], "owner_id": owner})
    assert r.status_code == 200, r.text
    r = httpx.put(f"{ntf.url}/preferences/me", headers=bearer(owner, Role.WINDOW_STAFF),
                  json={"channels": ["sms"], "phone": OWNER_PHONE})
    assert r.status_code == 200, r.text

    # a company case, accepted at window 1, completed by the departments
    r = httpx.post(f"{reg.url}/cases", headers=bearer(applicant),
                   json={"form": company_form(f"兰州{unique}评价科技有限公司"), "applicant_phone": APPLICANT_PHONE})
    assert r.status_code == 201, r.text
    case = r.json()["case_number"]
    r = httpx.post(f"{reg.url}/cases/{case}/window-check", json={}, headers=bearer(staff, Role.WINDOW_STAFF))
    assert r.json()["status"] == "accepted", r.text

    # the invitation with its link reaches the applicant's phone
    def sms_with(to: str, text: str):
        return [m for m in gateways.received(case_number=case, to=to) if text in m["text"]]

    [invitation] = wait_for(lambda: sms_with(APPLICANT_PHONE, "token="), timeout=60, what="the rating link by SMS")
    token = re.search(r"token=([A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)", invitation["text"]).group(1)

    # rated by the link, badly, from the mini-program (no login)
    r = httpx.post(f"{rat.url}/ratings/by-token", json={"token": token, "level": "dissatisfied",
                                                        "indicators": {"overall": 2}, "comment": "窗口排队太久"})
    assert r.status_code == 200 and r.json()["rating"]["bad"], r.text
    r = httpx.post(f"{rat.url}/ratings/by-token", json={"token": token, "level": "very_satisfied"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "token"

    # the ledger entry, its owner told by SMS
    sv = bearer("sv", Role.SUPERVISOR)
    [entry] = wait_for(lambda: [e for e in httpx.get(f"{rat.url}/ledger", headers=sv).json()
                                if e["case_number"] == case], what="the ledger entry")
    assert entry["owner_id"] == owner and entry["status"] == "open"
    wait_for(lambda: sms_with(OWNER_PHONE, "差评"), what="the owner's SMS")

    # the callback: reasonable, feedback due within 3 working days
    r = httpx.post(f"{rat.url}/ledger/{entry['entry_id']}/callback", headers=bearer(owner, Role.WINDOW_STAFF),
                   json={"outcome": "已电话回访，申请人反映排队时间长，情况属实", "reasonable": True})
    assert r.status_code == 200 and r.json()["status"] == "rectifying", r.text
    due = datetime.fromisoformat(r.json()["feedback_due_at"])

    # two days pass (the ratings process reads its clock from the file): still inside the limit
    later = datetime.fromisoformat(r.json()["called_back_at"]) + timedelta(days=2)
    assert later < due
    FileClock.set(clock_file, later)
    r = httpx.post(f"{rat.url}/ledger/{entry['entry_id']}/feedback", headers=bearer(owner, Role.WINDOW_STAFF),
                   json={"text": "已增开一个综合受理窗口，高峰时段等候缩短至15分钟以内"})
    assert r.status_code == 200, r.text
    assert r.json()["within_time_limit"] is True and datetime.fromisoformat(r.json()["answered_at"]) == later

    [feedback] = wait_for(lambda: sms_with(APPLICANT_PHONE, "增开一个综合受理窗口"), what="the feedback by SMS")
    assert feedback["text"].startswith("【一窗通办】") and case in feedback["text"]

    # the figures: one bad rating at window 1, called back and answered
    month = datetime.fromisoformat(entry["opened_at"]).astimezone(CN_TZ).strftime("%Y-%m")  # the hall's month
    stats = httpx.get(f"{rat.url}/statistics", params={"month": month, "by": "window"}, headers=sv).json()
    assert [(row["key"], row["bad"]) for row in stats["rows"]] == [("w1", 1)]
    assert stats["callback_rate"] == 1.0 and stats["reply_rate"] == 1.0
