"""The hall screen's data in ratings (public ``GET /hall``): each window's business and the staff
listed at it (工号/姓名 only), and today's ratings with their satisfaction; the windows' business
set by ``PUT /windows/{id}`` and bounded. In-process on the real broker and database."""

from __future__ import annotations

from contracts.events import ratings as rat
from ratings.bootstrap import create_app
from servicekit.auth import Role
from servicekit.clock import FrozenClock
from tests.component.test_ratings_flow import T0, completed
from tests.support.apps import eventually, running, token
from tests.support.events import publish, read_events


async def test_the_hall_shows_business_staff_and_todays_ratings_without_login(infra, rat_settings, unique):
    clock = FrozenClock(T0)
    s = rat_settings
    op = token(s, "op", Role.OPERATOR)
    async with running(create_app(s, clock=clock)) as client:
        empty = await client.get("/hall")
        assert empty.status_code == 200, empty.text
        assert empty.json() == {"windows": [], "today": {"date": "2026-11-02", "ratings": 0, "satisfaction": None}}

        r = await client.put("/windows/w1", headers=op, json={
            "name": "综合受理1号窗口", "department": "market_supervision", "staff": ["staff-1", "staff-2"],
            "staff_names": {"staff-1": "张敏"}, "owner_id": "owner-1", "business": ["企业开办", "营业执照变更"]})
        assert r.status_code == 200 and r.json()["business"] == ["企业开办", "营业执照变更"], r.text
        r = await client.put("/windows/w2", headers=op, json={"name": "工程建设项目窗口", "staff": ["staff-9"]})
        assert r.status_code == 200 and r.json()["business"] == [], r.text
        for bad in (["x" * 41], ["企业开办"] * 21, ["企业\u200b开办"]):
            r = await client.put("/windows/w3", headers=op, json={"name": "三号窗口", "business": bad})
            assert r.status_code == 422 and r.json()["errors"][0]["field"].startswith("business"), r.text

        # two cases rated today: one satisfied, one very dissatisfied
        for i, level in enumerate(("satisfied", "very_dissatisfied")):
            case = f"QY{unique}{i}"
            await publish(infra, completed(case, f"u-{unique}{i}"))

            async def invited(case=case):
                return await read_events(infra, rat.RatingInvitedV1, case)

            [inv] = await eventually(invited, what=f"invitation of {case}")
            r = await client.post("/ratings/by-token", json={"token": inv.rating_url.split("token=", 1)[1],
                                                             "level": level})
            assert r.status_code == 200, r.text

        hall = await client.get("/hall")
        assert hall.status_code == 200
        body = hall.json()
        assert body["windows"] == [
            {"window_id": "w1", "name": "综合受理1号窗口", "department": "market_supervision",
             "business": ["企业开办", "营业执照变更"],
             "staff_on_duty": [{"staff_id": "staff-1", "name": "张敏"}, {"staff_id": "staff-2", "name": "staff-2"}]},
            {"window_id": "w2", "name": "工程建设项目窗口", "department": None, "business": [],
             "staff_on_duty": [{"staff_id": "staff-9", "name": "staff-9"}]}]
        assert body["today"] == {"date": "2026-11-02", "ratings": 2, "satisfaction": 0.5}
        assert "owner_id" not in str(body) and "phone" not in str(body)

        clock.advance(days=1)  # tomorrow starts at zero
        assert (await client.get("/hall")).json()["today"] == {"date": "2026-11-03", "ratings": 0, "satisfaction": None}
