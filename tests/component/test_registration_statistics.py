"""Registration's statistics over HTTP on the real broker and database: cases submitted and
completed by the simulated departments are counted in the month's figures and today's, the
public hall-screen figures carry counts only, and the roles are checked."""

from __future__ import annotations

from datetime import datetime

from registration.bootstrap import create_app
from servicekit.auth import Role
from servicekit.clock import CN_TZ
from tests.component.test_registration_flow import APPLICANT, departments, submit_and_accept
from tests.component.test_registration_flow import settings as settings
from tests.support.apps import running
from tests.support.auth import bearer
from tests.support.waiting import eventually

SUPERVISOR = bearer("sv-1", Role.SUPERVISOR)


async def test_completed_cases_are_counted_in_the_month_and_today(settings, unique):
    now = datetime.now(CN_TZ)
    month, day = now.strftime("%Y-%m"), now.strftime("%Y-%m-%d")
    async with running(create_app(settings)) as reg, departments():
        empty = await reg.get("/statistics", params={"month": month}, headers=SUPERVISOR)
        assert empty.status_code == 200, empty.text
        assert empty.json() == {"month": month, "today": {"date": day, "submitted": 0, "completed": 0}, "matters": [
            {"kind": k, "submitted": 0, "completed": 0, "within_limit": 0, "attainment": None, "overdue_open": 0}
            for k in ("establishment", "change")]}
        cases = [await submit_and_accept(reg, f"兰州{unique}统计{i}科技有限公司") for i in range(2)]
        r = await reg.post("/cases", json={"form": {"company_name": "x"}}, headers=APPLICANT)
        assert r.status_code == 422  # refused: not counted

        async def both_completed():
            r = await reg.get("/statistics", params={"month": month}, headers=bearer("ov-1", Role.OVERSIGHT))
            est = r.json()["matters"][0]
            return r.json() if est["completed"] == 2 else None

        body = await eventually(both_completed, timeout=45, what=f"{cases} completed and counted")
        assert body["matters"][0] == {"kind": "establishment", "submitted": 2, "completed": 2, "within_limit": 2,
                                      "attainment": 1.0, "overdue_open": 0}
        assert body["today"] == {"date": day, "submitted": 2, "completed": 2}

        public = await reg.get("/statistics/today")  # no token: the hall screen
        assert public.status_code == 200 and public.json() == {"date": day, "submitted": 2, "completed": 2}

        for who, code in ((APPLICANT, 403), (bearer("h-1", Role.HELPER), 403), ({}, 401)):
            r = await reg.get("/statistics", params={"month": month}, headers=who)
            assert r.status_code == code and r.headers["content-type"] == "application/problem+json"
        for bad in ("2026-13", "26-11", "2026-11-01"):
            r = await reg.get("/statistics", params={"month": bad}, headers=SUPERVISOR)
            assert r.status_code == 422 and "month" in {e["field"] for e in r.json()["errors"]}, r.text
        tallies = await reg.kit.db["statistics"].count_documents({})
        assert 0 < tallies <= 8 * 5  # a few small documents (shards × tallies), not one per case
