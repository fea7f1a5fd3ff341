"""Ratings in-process on the real broker and database: a completed case (registration's or
approvals' event) opens for rating, the link's token rates it once, a bad rating opens a ledger
entry that is called back and answered; the rating rules refuse with problem+json naming the field."""

from __future__ import annotations

from datetime import UTC, datetime

from contracts.events import approvals as apr
from contracts.events import crossregion as xr
from contracts.events import ratings as rat
from contracts.events import registration as reg
from ratings.bootstrap import create_app
from servicekit.auth import Role
from servicekit.clock import FrozenClock
from tests.support.apps import eventually, running, token
from tests.support.events import make, publish, read_events

T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # Monday 10:00 Beijing


def completed(case: str, applicant: str, staff: str | None = "staff-1") -> reg.CaseCompletedV1:
    return make(reg.CaseCompletedV1, case, applicant_id=applicant, company_name="兰州一窗科技有限公司",
                kind="establishment", unified_social_credit_code="91620102MA00000000", accepted_at=T0,
                completed_at=T0, within_time_limit=True, results={}, staff_id=staff)


def stage(case: str, applicant: str) -> apr.StageCompletedV1:
    return make(apr.StageCompletedV1, case, source="/one-window/approvals", applicant_id=applicant,
                project_code="2026-620102-48-01-000001", project_name="一窗通办大厦", stage="construction_permit",
                catalogue_version="2026.1", channel="window", staff_id="staff-2", departments=["housing_construction"],
                accepted_at=T0, completed_at=T0, within_time_limit=True, same_day=True, documents=[])


async def _setup(client, s) -> None:
    r = await client.put("/windows/w1", headers=token(s, "op", Role.OPERATOR),
                         json={"name": "综合受理1号窗口", "department": "market_supervision", "staff": ["staff-1", "staff-2"],
                               "owner_id": "owner-1"})
    assert r.status_code == 200, r.text


async def _invitation(infra, case: str) -> rat.RatingInvitedV1:
    async def invited():
        return [e for e in await read_events(infra, rat.RatingInvitedV1, case)]

    [inv] = await eventually(invited, what=f"invitation of {case}")
    return inv


def _token(inv: rat.RatingInvitedV1) -> str:
    return inv.rating_url.split("token=", 1)[1]


async def test_one_rating_per_case_by_token_then_ledger(infra, rat_settings, unique):
    clock = FrozenClock(T0)
    s = rat_settings
    case, applicant = f"QY{unique}", f"u-{unique}"
    async with running(create_app(s, clock=clock)) as client:
        await _setup(client, s)
        await publish(infra, completed(case, applicant))
        inv = await _invitation(infra, case)
        assert inv.applicant_id == applicant and inv.window_id == "w1" and "token=" in inv.rating_url

        # the QR code for the receipt is a PNG of the same link
        qr = await client.get(f"/cases/{case}/rating/qr", headers=token(s, "staff-1", Role.WINDOW_STAFF))
        assert qr.status_code == 200 and qr.headers["content-type"] == "image/png" and qr.content[:8] == b"\x89PNG\r\n\x1a\n"

        # a forged token: 422 naming the field
        forged = _token(inv)[:-4] + ("AAAA" if not _token(inv).endswith("AAAA") else "BBBB")
        r = await client.post("/ratings/by-token", json={"token": forged, "level": "satisfied"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "token", r.text

        # wrong indicator for the channel: 422 naming it
        r = await client.post("/ratings/by-token", json={"token": _token(inv), "level": "satisfied", "channel": "app",
                                                         "indicators": {"attitude": 4}})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "indicators.attitude", r.text

        clock.advance(hours=1)
        r = await client.post("/ratings/by-token", json={"token": _token(inv), "level": "very_dissatisfied",
                                                         "channel": "mini_program",
                                                         "indicators": {"overall": 1, "efficiency": 2},
                                                         "comment": "等了很久"})
        assert r.status_code == 200, r.text
        assert r.json()["rating"]["bad"] is True and r.json()["rating"]["label"] == "非常不满意"
        # the same request again (a lost reply): the first answer
        again = await client.post("/ratings/by-token", json={"token": _token(inv), "level": "very_dissatisfied"})
        assert again.status_code == 200 and again.json()["rating"]["rated_at"] == r.json()["rating"]["rated_at"]
        # reused for another level: refused, naming the token
        reused = await client.post("/ratings/by-token", json={"token": _token(inv), "level": "very_satisfied"})
        assert reused.status_code == 422 and reused.json()["errors"][0]["field"] == "token"
        # a second rating on another channel: 409
        second = await client.post(f"/cases/{case}/rating", headers=token(s, applicant), json={"level": "satisfied"})
        assert second.status_code == 409 and second.json()["code"] == "AlreadyRated", second.text

        # the bad rating opened a ledger entry for the window's owner
        opened = await eventually(lambda: read_events(infra, rat.LedgerEntryOpenedV1, case), what="ledger entry")
        entry_id = opened[0].entry_id
        assert opened[0].owner_id == "owner-1" and opened[0].applicant_id == applicant
        owner = token(s, "owner-1", Role.WINDOW_STAFF)
        other = token(s, "someone-else", Role.WINDOW_STAFF)
        r = await client.post(f"/ledger/{entry_id}/callback", headers=other, json={"outcome": "x", "reasonable": True})
        assert r.status_code == 403
        r = await client.post(f"/ledger/{entry_id}/callback", headers=owner,
                              json={"outcome": "已电话回访，情况属实", "reasonable": True})
        assert r.status_code == 200 and r.json()["status"] == "rectifying", r.text
        due = datetime.fromisoformat(r.json()["feedback_due_at"])
        assert due == datetime(2026, 11, 5, 16, 0, tzinfo=UTC)  # 3 working days: Thursday 24:00 Beijing
        clock.advance(days=2)
        r = await client.post(f"/ledger/{entry_id}/feedback", headers=owner, json={"text": "已增设引导员，缩短等候时间"})
        assert r.status_code == 200 and r.json()["within_time_limit"] is True, r.text
        [fb] = await eventually(lambda: read_events(infra, rat.RectificationFeedbackGivenV1, case), what="feedback")
        assert fb.applicant_id == applicant and "引导员" in fb.feedback

        # statistics: the bad rating, callback and reply rates at 100% now
        r = await client.get("/statistics", params={"month": "2026-11", "by": "window"},
                             headers=token(s, "sv", Role.SUPERVISOR))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["rows"] == [{"key": "w1", "counts": {**dict.fromkeys(
            ["very_satisfied", "satisfied", "basically_satisfied", "dissatisfied"], 0), "very_dissatisfied": 1},
            "online": 1, "paper": 0, "total": 1, "bad": 1, "satisfaction_rate": 0.0}]
        assert body["callback_rate"] == 1.0 and body["reply_rate"] == 1.0 and body["not_replied"] == []

        # a review annuls it: the case may be rated again, with a new link
        r = await client.post(f"/cases/{case}/rating/annulment", headers=token(s, "sv", Role.SUPERVISOR),
                              json={"reason": "评价人误操作，经核实撤销"})
        assert r.status_code == 200 and r.json()["rating"] is None and r.json()["annulled"] == 1, r.text
        invitations = await eventually(
            lambda: _when(read_events(infra, rat.RatingInvitedV1, case), lambda es: len(es) == 2), what="new link")
        r = await client.post("/ratings/by-token", json={"token": _token(invitations[1]), "level": "satisfied"})
        assert r.status_code == 200 and r.json()["rating"]["level"] == "satisfied"


async def _when(coro, ok):
    value = await coro
    return value if ok(value) else None


async def test_expired_token_and_stage_completion(infra, rat_settings, unique):
    clock = FrozenClock(T0)
    s = rat_settings
    case, applicant = f"GC{unique}", f"u-{unique}"
    async with running(create_app(s, clock=clock)) as client:
        await _setup(client, s)
        await publish(infra, stage(case, applicant))
        inv = await _invitation(infra, case)
        assert inv.matter == "construction_permit"
        clock.advance(days=31)
        r = await client.post("/ratings/by-token", json={"token": _token(inv), "level": "satisfied"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "token" and "expired" in r.json()["detail"]
        # the window's device, at the window that served it
        r = await client.post(f"/cases/{case}/rating", headers=token(s, "staff-9", Role.WINDOW_STAFF),
                              json={"level": "satisfied"})
        assert r.status_code == 403, r.text
        r = await client.post(f"/cases/{case}/rating", headers=token(s, "staff-1", Role.WINDOW_STAFF),
                              json={"level": "satisfied", "indicators": {"attitude": 5}})
        assert r.status_code == 200 and r.json()["rating"]["channel"] == "window_device", r.text

        # a cross-region case completed here opens for rating too
        cross = make(xr.CrossRegionCaseCompletedV1, f"XR{unique}", source="/one-window/crossregion",
                     applicant_id=applicant, matter="licence_change", mode="proxy", origin_region="620600",
                     handling_regions=["620100"], staff_id="staff-2", completed_at=T0, within_time_limit=True,
                     deliver_at="origin")
        await publish(infra, cross)
        inv = await _invitation(infra, f"XR{unique}")
        assert inv.matter == "licence_change" and inv.window_id == "w1"


async def test_a_poison_completion_is_dead_lettered_and_the_next_case_opens(infra, rat_settings, unique):
    """A completion that is not an event (invalid JSON) goes to ratings' dead-letter topic with its
    reason; the consumer goes on (the good event behind it, same key and partition, opens)."""
    from contracts import dead_letter_topic, topic_for
    from tests.support.kafka import produce, read_all

    s = rat_settings
    case = f"PZ{unique}"
    async with running(create_app(s)):
        good = completed(case, f"u-{unique}")
        _body, headers = good.to_wire()
        await produce(infra.kafka_bootstrap, topic_for(good).name, b'{"case_number": "P', headers, case)
        await publish(infra, good)
        await _invitation(infra, case)

        async def dead():
            records = await read_all(infra.kafka_bootstrap, dead_letter_topic("ratings"))
            return [r for r in records if r.key == case.encode()]

        [record] = await eventually(dead, what="the poison dead-lettered")
        assert record.value == b'{"case_number": "P' and dict(record.headers).get("dlq_reason")


async def test_the_sms_link_opens_a_rating_page_that_rates_once(infra, rat_settings, unique):
    """The link in the invitation SMS is a page (not a 404): a form of the five levels with no
    script and nothing from elsewhere; posting it rates the case as by-token does, once."""
    s = rat_settings
    case, applicant = f"QY{unique}", f"u-{unique}"
    async with running(create_app(s, clock=FrozenClock(T0))) as client:
        await _setup(client, s)
        await publish(infra, completed(case, applicant))
        inv = await _invitation(infra, case)
        link = inv.rating_url.split("://", 1)[1].split("/", 1)[1]  # the path and query of the link
        page = await client.get(f"/{link}")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html"), page.text
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assert page.headers["referrer-policy"] == "no-referrer"
        assert page.text.count('type="radio" name="level"') == 5 and "<script" not in page.text
        assert f'value="{_token(inv)}"' in page.text and "http" not in page.text.split("<body>", 1)[1]

        form = {"token": _token(inv), "comment": "<b>排队太久</b>"}
        missing = await client.post("/rate", data=form)
        assert missing.status_code == 422 and "请选择满意程度" in missing.text and "&lt;b&gt;排队太久" in missing.text

        done = await client.post("/rate", data={**form, "level": "dissatisfied"})
        assert done.status_code == 200 and case in done.text and "3个工作日" in done.text, done.text
        rating = await client.get(f"/cases/{case}/rating", headers=token(s, "sv", Role.SUPERVISOR))
        assert rating.json()["rating"]["level"] == "dissatisfied", rating.text
        assert rating.json()["rating"]["channel"] == "web"

        again = await client.post("/rate", data={**form, "level": "satisfied"})
        assert again.status_code in (409, 422) and "无法评价" in again.text
        forged = await client.post("/rate", data={"token": "x.y.z" * 5, "level": "satisfied"})
        assert forged.status_code == 422 and "无法评价" in forged.text
