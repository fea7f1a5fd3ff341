"""A full month of paper cards (政务服务评价卡) in one test, ratings in-process on the real broker and
database: daily issue and reconciliation with a deliberate mismatch (alarm), online ratings beside,
the box opening with a forged, a duplicate, another window's and another month's card (flagged),
three sign-offs (a repeated account refused), the red/black list served publicly for 15 days and
refused for 14; then every completion event delivered again changes no figure, and a card edited
directly in the database is named by the verification."""

from __future__ import annotations

from datetime import UTC, date, datetime

import httpx

from contracts.events import ratings as rat
from ratings.bootstrap import create_app
from ratings.domain import make_serial
from ratings.verify import verify as verify_command
from servicekit.auth import Role
from servicekit.clock import FrozenClock
from servicekit.workdays import WorkdayCalendar
from tests.component.test_ratings_flow import completed
from tests.support.apps import eventually, running, token
from tests.support.events import make, publish, read_events

MONTH = "2026-11"
START = datetime(2026, 11, 2, 0, 30, tzinfo=UTC)  # Monday 08:30 Beijing


async def _ok(r: httpx.Response, status: int = 200) -> dict | list:
    assert r.status_code == status, f"{r.request.method} {r.request.url.path}: {r.status_code} {r.text}"
    return r.json()


async def test_a_month_of_paper_cards(infra, rat_settings, unique):
    s = rat_settings.model_copy(update={"rank_min_ratings": 5, "rank_red_size": 1, "rank_black_size": 1})
    clock = FrozenClock(START)
    op, sv = token(s, "op", Role.OPERATOR), token(s, "sv-1", Role.SUPERVISOR)
    hall = token(s, "hall-1", Role.WINDOW_STAFF)
    bodies = {b: token(s, f"ov-{b}", Role.OVERSIGHT, department=b)
              for b in ("assessment_office", "discipline_inspection", "service_center")}
    async with running(create_app(s, clock=clock)) as client:
        await _ok(await client.put("/windows/w1", headers=op, json={"name": "一号窗口", "staff": ["s1"],
                                                                     "staff_names": {"s1": "张三"}}))
        await _ok(await client.put("/windows/w2", headers=op, json={"name": "二号窗口", "staff": ["s2"]}))

        # a card of October, at w1 (another period when counted in November)
        october = make_serial(2610000000)
        await _ok(await client.post("/cards/issues", headers=hall, json={
            "day": "2026-10-30", "window_id": "w1", "staff_id": "s1", "first": october, "count": 1}), 201)

        # a mistyped first serial is refused, naming the field
        typo = october[:-1] + ("0" if october[-1] != "0" else "1")
        r = await client.post("/cards/issues", headers=hall, json={
            "day": "2026-11-02", "window_id": "w1", "staff_id": "s1", "first": typo, "count": 5})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "first", r.text

        # every working day of November: 6 cards to each window; 4 dropped (w1 good, w2 bad), 1 back, 1 void
        calendar, body, used = WorkdayCalendar(), 2611000000, {"w1": [], "w2": []}
        days = [date(2026, 11, d) for d in range(1, 31) if calendar.is_workday(date(2026, 11, d))]
        mismatch_day = days[5].isoformat()
        for day in days:
            for window, staff, slot in (("w1", "s1", "good"), ("w2", "s2", "bad")):
                cards = await _ok(await client.post("/cards/issues", headers=hall, json={
                    "day": day.isoformat(), "window_id": window, "staff_id": staff, "first": make_serial(body),
                    "count": 6}), 201)
                body += 6
                serials = [c["serial"] for c in cards]
                dropped = serials[:4] if not (window == "w1" and day.isoformat() == mismatch_day) else serials[:3]
                await _ok(await client.post("/cards/drops", headers=hall, json={"serials": dropped, "slot": slot}))
                await _ok(await client.post("/cards/returns", headers=hall, json={"serials": [serials[4]]}))
                await _ok(await client.post("/cards/voids", headers=hall, json={"serials": [serials[5]]}))
                used[window] += dropped
                rec = await _ok(await client.post("/cards/reconciliations", headers=hall,
                                                  json={"day": day.isoformat(), "window_id": window}))
                if window == "w1" and day.isoformat() == mismatch_day:
                    assert not rec["balanced"] and rec["missing"] == [serials[3]] and rec["issued"] == 6
                    lost = serials[3]
                else:
                    assert rec["balanced"], rec
        # the alarm and the day's report
        alarm = await _alarm(infra, mismatch_day)
        assert alarm.window_id == "w1" and alarm.missing == [lost] and alarm.issued == 6 and alarm.used == 3
        report = await _ok(await client.get("/cards/reconciliations", params={"day": mismatch_day}, headers=sv))
        assert [(r["window_id"], r["balanced"]) for r in report] == [("w1", False), ("w2", True)]

        # online ratings of the month: 6 cases at w1, all satisfied
        clock.set(datetime(2026, 11, 27, 2, tzinfo=UTC))
        completions = [completed(f"QY{unique}{i}", f"u{i}", staff="s1") for i in range(6)]
        await publish(infra, *completions)
        invitations = await eventually(lambda: _all_invited(infra, completions), what="invitations")
        for inv in invitations:
            await _ok(await client.post("/ratings/by-token", json={"token": inv.rating_url.split("token=")[1],
                                                                   "level": "very_satisfied"}))

        # the box opening, at the start of December
        clock.set(datetime(2026, 12, 1, 1, tzinfo=UTC))
        await _ok(await client.put(f"/boxes/{MONTH}", headers=sv))
        forged = make_serial(2619999999)  # a valid check character, never issued
        w1_votes = [{"serial": x, "slot": "good"} for x in used["w1"]] + [
            {"serial": forged, "slot": "good"}, {"serial": used["w1"][0], "slot": "good"},  # forged, duplicate
            {"serial": used["w2"][0], "slot": "bad"}, {"serial": october, "slot": "good"}]  # other window, period
        votes = await _ok(await client.post(f"/boxes/{MONTH}/votes", headers=bodies["service_center"],
                                            json={"window_id": "w1", "votes": w1_votes}))
        flags = {v["serial"]: v["flag"] for v in votes if not v["counted"]}
        assert flags == {forged: "never_issued", used["w1"][0]: "already_counted", used["w2"][0]: "other_window",
                         october: "other_period"}
        w2_votes = await _ok(await client.post(f"/boxes/{MONTH}/votes", headers=sv, json={
            "window_id": "w2", "votes": [{"serial": x, "slot": "bad"} for x in used["w2"]]}))
        assert all(v["counted"] for v in w2_votes)
        # the same card again in a later batch: flagged too
        again = await _ok(await client.post(f"/boxes/{MONTH}/votes", headers=sv, json={
            "window_id": "w2", "votes": [{"serial": used["w2"][1], "slot": "bad"}]}))
        assert again[0]["flag"] == "already_counted"
        # a serial mistyped: refused naming it
        bad = used["w1"][1][:-1] + ("0" if used["w1"][1][-1] != "0" else "1")
        r = await client.post(f"/boxes/{MONTH}/votes", headers=sv, json={"window_id": "w1",
                                                                          "votes": [{"serial": bad, "slot": "good"}]})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "serials.0", r.text

        # nothing is published before the three sign-offs
        r = await client.post("/lists", headers=sv, json={"month": MONTH, "display_days": 15})
        assert r.status_code == 409 and r.json()["errors"][0]["field"] == "month", r.text
        r = await client.post(f"/boxes/{MONTH}/sign-offs", headers=sv)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body", r.text
        await _ok(await client.post(f"/boxes/{MONTH}/sign-offs", headers=bodies["assessment_office"]))
        r = await client.post(f"/boxes/{MONTH}/sign-offs", headers=token(s, "ov-assessment_office", Role.OVERSIGHT,
                                                                       department="discipline_inspection"))
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "account", r.text
        await _ok(await client.post(f"/boxes/{MONTH}/sign-offs", headers=bodies["discipline_inspection"]))
        final = await _ok(await client.post(f"/boxes/{MONTH}/sign-offs", headers=bodies["service_center"]))
        assert final["final"] and len({x["account"] for x in final["sign_offs"]}) == 3
        box = await _ok(await client.get(f"/boxes/{MONTH}", headers=sv))
        paper = len(used["w1"]) + len(used["w2"])
        assert box["result"]["paper"] == paper and box["result"]["online"] == 6
        assert box["result"]["total"] == paper + 6 and len(box["flagged"]) == 5
        r = await client.post(f"/boxes/{MONTH}/votes", headers=sv, json={"window_id": "w1",
                                                                          "votes": [{"serial": forged, "slot": "good"}]})
        assert r.status_code == 409, r.text  # nothing changes after the sign-offs
        r = await client.post("/cards/voids", headers=hall, json={"serials": [lost]})
        assert r.status_code == 409 and "final" in r.json()["detail"], r.text
        # this ratings database's month (other tests finalise the same month on the shared topic);
        # at least once: the relay may publish a row again, with the same ce_id
        head = box["result"]["chain_head"]

        async def finals() -> list[rat.MonthFinalisedV1]:
            return [f for f in await read_events(infra, rat.MonthFinalisedV1, MONTH) if f.chain_head == head]

        assert len({f.event_id for f in await eventually(finals, what="month final")}) == 1

        # the list: 14 days refused, 15 published, served publicly while on display
        r = await client.post("/lists", headers=sv, json={"month": MONTH, "display_days": 14})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "display_days", r.text
        pub = await _ok(await client.post("/lists", headers=sv, json={"month": MONTH, "display_days": 15}), 201)
        assert [(x["kind"], x["id"]) for x in pub["red"]] == [("window", "w1"), ("staff", "s1")]
        assert [(x["kind"], x["id"]) for x in pub["black"]] == [("window", "w2"), ("staff", "s2")]
        assert pub["red"][1]["name"] == "张三" and pub["black"][0]["satisfaction_rate"] == 0.0
        r = await client.post("/lists", headers=sv, json={"month": MONTH, "display_days": 30})
        assert r.status_code == 409  # immutable
        public = await _ok(await client.get("/lists/current"))  # no login
        assert [x["month"] for x in public] == [MONTH] and public[0]["red"][0]["name"] == "一号窗口"
        clock.advance(days=14, hours=23)
        assert [x["month"] for x in await _ok(await client.get("/lists/current"))] == [MONTH]
        clock.advance(hours=1)
        assert await _ok(await client.get("/lists/current")) == []

        # replay: every completion of the month delivered again (same ids, and new ids) changes no figure
        stats = {by: await _ok(await client.get("/statistics", params={"month": MONTH, "by": by}, headers=sv))
                 for by in ("window", "staff", "month")}
        again = [make(type(e), e.case_number, **e.model_dump(exclude={"event_id", "source", "subject", "case_number",
                                                                      "specversion", "time"}))
                 for e in completions]
        await publish(infra, *completions, *again)
        marker = completed(f"MK{unique}", "u-marker", staff="s2")
        await publish(infra, marker)
        await eventually(lambda: read_events(infra, rat.RatingInvitedV1, marker.case_number), what="marker")
        for by, before in stats.items():
            assert await _ok(await client.get("/statistics", params={"month": MONTH, "by": by}, headers=sv)) == before
        assert len(await _all_invited(infra, completions) or []) == 6

        # tampering: the log verifies; a card edited directly in the database is named
        ok = await _ok(await client.get("/log/verification", headers=bodies["assessment_office"]))
        assert ok["ok"] and ok["card_mismatches"] == [] and ok["records"] > len(days) * 2
        db = client.kit.db
        await db["cards"].update_one({"_id": lost}, {"$set": {"status": "returned"}})
        v = await _ok(await client.get("/log/verification", headers=bodies["assessment_office"]))
        assert not v["ok"] and v["card_mismatches"] == [f"{lost}: status 'returned' (log: 'issued')"], v
        rec = await db["chain"].find_one({"kind": "card.dropped"})
        await db["chain"].update_one({"_id": rec["_id"]}, {"$set": {"data.slot": "bad"}})
        v = await _ok(await client.get("/log/verification", headers=bodies["assessment_office"]))
        assert v["broken_record"] == rec["_id"] and v["broken_subject"] == rec["subject"] and "changed" in v["reason"]
        # the same from the command an oversight body runs against the database
        out = await verify_command(infra.mongodb_uri, s.database_name)
        assert not out["ok"] and out["broken_record"] == rec["_id"] and out["card_mismatches"] == v["card_mismatches"]


async def _alarm(infra, day: str) -> rat.CardDayMismatchV1:
    async def find():
        return [e for e in await read_events(infra, rat.CardDayMismatchV1, MONTH) if e.day == day]

    [alarm] = await eventually(find, what="mismatch alarm")
    return alarm


async def _all_invited(infra, completions) -> list[rat.RatingInvitedV1] | None:
    found = []
    for c in completions:
        found += await read_events(infra, rat.RatingInvitedV1, c.case_number)
    return found if len(found) >= len(completions) else None

