"""The console's ratings pages (差评台账, 评价卡, 开箱验票) over the REAL ratings app in-process (its
broker and database): a bad rating's ledger entry called back and answered, a day of paper cards
issued and reconciled with its alarm, a month's box opening signed by the three oversight bodies."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
import pytest
from asgi_lifespan import LifespanManager

from ratings.bootstrap import create_app as ratings_app
from ratings.domain import make_serial
from servicekit.auth import Role
from servicekit.clock import FrozenClock
from servicekit.principal import Principal
from tests.component.test_ratings_flow import completed
from tests.support.apps import eventually, token
from tests.support.console import console_client
from tests.support.events import publish

pytestmark = pytest.mark.component
T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # Monday 10:00 Beijing
BODIES = ("assessment_office", "discipline_inspection", "service_center")


def _csrf(session) -> dict[str, str]:
    return {"csrf": session.csrf}


async def _api(app, s, method: str, path: str, sub: str, role: Role, **kw) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ratings") as api:
        return await api.request(method, path, headers=token(s, sub, role), **kw)


async def _bad_rating(infra, app, s, case: str, comment: str) -> str:
    """A completed case at w1, rated at the window's device as 非常不满意: its ledger entry's id."""
    await publish(infra, completed(case, f"u-{case}", staff="staff-1"))

    async def opened():
        r = await _api(app, s, "GET", f"/cases/{case}/rating", "staff-1", Role.WINDOW_STAFF)
        return r.status_code == 200

    await eventually(opened, what=f"case {case} open for rating")
    r = await _api(app, s, "POST", f"/cases/{case}/rating", "staff-1", Role.WINDOW_STAFF,
                   json={"level": "very_dissatisfied", "comment": comment})
    assert r.status_code == 200, r.text
    r = await _api(app, s, "GET", "/ledger", "sv", Role.SUPERVISOR)
    [entry] = [e for e in r.json() if e["case_number"] == case]
    return entry["entry_id"]


async def test_a_bad_rating_is_called_back_and_answered_from_the_ledger(infra, rat_settings, unique):
    s, clock = rat_settings, FrozenClock(T0)
    app = ratings_app(s, clock=clock)
    async with LifespanManager(app, startup_timeout=60), console_client({"ratings": app}, clock=clock) as (client, login):
        r = await _api(app, s, "PUT", "/windows/w1", "op", Role.OPERATOR,
                       json={"name": "综合受理1号窗口", "staff": ["staff-1"], "owner_id": "owner-1"})
        assert r.status_code == 200, r.text
        fixed = await _bad_rating(infra, app, s, f"QY{unique}A", "等了两个小时，我的电话 13912345678")
        explained = await _bad_rating(infra, app, s, f"QY{unique}B", "要求当天发照")

        owner = login(Principal("owner-1", Role.WINDOW_STAFF))
        board = await client.get("/ledger")
        assert board.status_code == 200
        assert fixed in board.text and explained in board.text and "待电话回访" in board.text
        assert "<td>综合受理1号窗口</td>" in board.text  # the window by its name, from the roster
        entry = await client.get(f"/ledger/{fixed}")
        assert "非常不满意" in entry.text and "13912345678" in entry.text  # window staff read it in full
        assert "回访结果" in entry.text and "记录回访" in entry.text and "提交整改反馈" not in entry.text

        # a bad form: nothing sent, the message beside the field
        bad = await client.post(f"/ledger/{fixed}/callback", data={**_csrf(owner), "outcome": " ", "reasonable": "true"})
        assert bad.status_code == 422 and 'id="e-outcome"' in bad.text and "记录回访" in bad.text
        # the callback: reasonable, so the feedback is due in 3 working days (Thursday 24:00 Beijing)
        done = await client.post(f"/ledger/{fixed}/callback",
                                 data={**_csrf(owner), "outcome": "已电话回访，情况属实", "reasonable": "true"})
        assert done.status_code == 303 and done.headers["location"] == f"/ledger/{fixed}?done=callback"
        entry = await client.get(done.headers["location"])
        assert "回访已记录" in entry.text
        assert "2026-11-06 00:00" in entry.text and "整改反馈" in entry.text and "提交整改反馈" in entry.text
        assert "记录回访" not in entry.text and "提交解释说明" not in entry.text
        done = await client.post(f"/ledger/{fixed}/feedback", data={**_csrf(owner), "feedback": "已增设引导员"})
        assert done.status_code == 303
        entry = await client.get(done.headers["location"])
        assert "整改反馈已发送给评价人" in entry.text and "提交整改反馈" not in entry.text

        # the other: no legal basis, so an explanation
        await client.post(f"/ledger/{explained}/callback",
                          data={**_csrf(owner), "outcome": "已回访，要求超出法定时限", "reasonable": "false"})
        entry = await client.get(f"/ledger/{explained}")
        assert "提交解释说明" in entry.text and "提交整改反馈" not in entry.text
        done = await client.post(f"/ledger/{explained}/explanation",
                                 data={**_csrf(owner), "explanation": "营业执照依法 1 个工作日内办结"})
        assert done.status_code == 303

        # in ratings: both answered
        stored = {e["entry_id"]: e for e in (await _api(app, s, "GET", "/ledger", "sv", Role.SUPERVISOR)).json()}
        assert stored[fixed]["status"] == "answered" and stored[fixed]["feedback"] == "已增设引导员"
        assert stored[explained]["status"] == "answered" and stored[explained]["explanation"].startswith("营业执照")
        pending = await client.get("/ledger")
        assert fixed not in pending.text and "没有符合条件的条目" in pending.text
        answered = await client.get("/ledger", params={"status": "answered", "sort": "owner"})
        assert fixed in answered.text and "负责人 owner-1（2 条）" in answered.text

        # a supervisor reads the comment masked; another window's staff member has no form on it
        login(Principal("sv-1", Role.SUPERVISOR))
        entry = await client.get(f"/ledger/{fixed}")
        assert "139****5678" in entry.text and "13912345678" not in entry.text
        login(Principal("someone-else", Role.WINDOW_STAFF))
        mine = await client.get("/ledger", params={"status": "all"})
        assert fixed not in mine.text


async def test_a_day_of_cards_then_the_box_opening_signed_by_three_bodies(rat_settings):
    s, clock = rat_settings, FrozenClock(datetime(2026, 11, 2, 0, 30, tzinfo=UTC))  # Monday 08:30 Beijing
    app = ratings_app(s, clock=clock)
    async with LifespanManager(app, startup_timeout=60), console_client({"ratings": app}, clock=clock) as (client, login):
        r = await _api(app, s, "PUT", "/windows/w1", "op", Role.OPERATOR,
                       json={"name": "一号窗口", "staff": ["s1"], "staff_names": {"s1": "张三"}})
        assert r.status_code == 200, r.text
        r = await _api(app, s, "PUT", "/windows/w2", "op", Role.OPERATOR, json={"name": "二号窗口", "staff": ["s2"]})
        assert r.status_code == 200, r.text
        hall = login(Principal("hall-1", Role.WINDOW_STAFF))
        page = await client.get("/cards")
        assert page.status_code == 200 and "一号窗口" in page.text and 'value="s1"' in page.text
        assert 'value="2026-11-02"' in page.text  # today, in Beijing

        serials = [make_serial(2611000000 + i) for i in range(6)]
        typo = serials[-1][:-1] + ("0" if serials[-1][-1] != "0" else "1")
        form = {**_csrf(hall), "window_id": "w1", "staff_id": "s1", "day": "2026-11-02", "first": serials[0]}
        bad = await client.post("/cards/issues", data={**form, "last": typo})
        assert bad.status_code == 422 and 'id="e-last"' in bad.text and "校验码不对" in bad.text
        backwards = await client.post("/cards/issues", data={**form, "first": serials[3], "last": serials[0]})
        assert backwards.status_code == 422 and "结束编号不能小于起始编号" in backwards.text
        elsewhere = await client.post("/cards/issues", data={**form, "staff_id": "s2", "last": serials[-1]})
        assert elsewhere.status_code == 422  # ratings' roster rule, in zh-CN beside the field
        assert re.search(r'id="e-staff_id" class="field-error" role="alert">此工作人员不在所选窗口', elsewhere.text)
        issued = await client.post("/cards/issues", data={**form, "last": serials[-1]})
        assert issued.status_code == 303 and "n=6" in issued.headers["location"], issued.text

        # the day: 3 in the good slot, 1 back, 1 void, 1 lost; a line that is no serial is refused by number
        moves = {**_csrf(hall), "action": "drop_good"}
        bad = await client.post("/cards/moves", data={**moves, "serials": f"{serials[0]}\n\nabc\n"})
        assert bad.status_code == 422 and "第 3 行" in bad.text and 'id="e-serials"' in bad.text
        for action, cards in (("drop_good", serials[:3]), ("return", [serials[3]]), ("void", [serials[4]])):
            done = await client.post("/cards/moves", data={**moves, "action": action,
                                                           "serials": "\n".join(f"  {c.lower()} " for c in cards)})
            assert done.status_code == 303, done.text
        again = await client.post("/cards/moves", data={**moves, "action": "void", "serials": f"\n{serials[0]}"})
        assert again.status_code == 422 and f"第 2 行：卡片 {serials[0]} 已投入评价箱，不能再登记" in again.text
        rec = await client.post("/cards/reconciliations", data={**_csrf(hall), "day": "2026-11-02", "window_id": "w1"})
        assert rec.status_code == 303
        report = await client.get(rec.headers["location"])
        alarm = re.search(r'<section class="alarm" role="alert".*?</section>', report.text, re.S)
        assert alarm and serials[5] in alarm.group(0) and "一号窗口" in alarm.group(0)

        # the box opening at the start of December: a supervisor opens November
        clock.set(datetime(2026, 12, 1, 1, tzinfo=UTC))
        sv = login(Principal("sv-1", Role.SUPERVISOR))
        assert "尚未开启" in (await client.get("/boxes/2026-11")).text
        opened = await client.post("/boxes", data={**_csrf(sv), "month": "2026-11"})
        assert opened.status_code == 303 and opened.headers["location"] == "/boxes/2026-11?done=opened"
        forged = make_serial(2619999999)
        counted = await client.post("/boxes/2026-11/votes", data={
            **_csrf(sv), "window_id": "w1", "slot": "good", "serials": "\n".join([*serials[:3], forged, ""])})
        assert counted.status_code == 303 and "n=4&flagged=1" in counted.headers["location"]
        page = await client.get(counted.headers["location"])
        assert "计入 3 张" in page.text and forged in page.text and "从未发放的卡" in page.text
        assert "签字确认</button>" not in page.text and "尚缺：市委考核办、市纪委监委作风办、市政务服务中心" in page.text

        for i, body in enumerate(BODIES):
            member = login(Principal(f"ov-{i}", Role.OVERSIGHT, department=body))
            page = await client.get("/boxes/2026-11")
            assert f"ov-{i}" in page.text and "签字确认</button>" in page.text
            signed = await client.post("/boxes/2026-11/sign-offs", data=_csrf(member))
            assert signed.status_code == 303, signed.text
        final = await client.get("/boxes/2026-11")
        assert "已终审：三家监督单位均已签字" in final.text and "未签字" not in final.text
        assert "录入</button>" not in final.text and "签字确认</button>" not in final.text
        assert re.search(r"<dt>评价卡</dt><dd>3 张</dd>", final.text)
        box = (await _api(app, s, "GET", "/boxes/2026-11", "sv", Role.SUPERVISOR)).json()
        assert box["final"] is True and sorted(x["body"] for x in box["sign_offs"]) == sorted(BODIES)


def _ledger(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/ledger":
        status = request.url.params.get("status")
        entries = {
            "open": [{"entry_id": "CP1", "kind": "bad_rating", "case_number": "QY-1", "owner_id": "o1",
                      "status": "open", "opened_at": "2026-11-26T02:00:00Z", "callback_due_at": "2026-11-27T16:00:00Z",
                      "called_back_at": None, "overdue": False}],
            "rectifying": [{"entry_id": "CP2", "kind": "bad_rating", "case_number": "QY-2", "owner_id": "o2",
                            "status": "rectifying", "opened_at": "2026-11-20T02:00:00Z",
                            "callback_due_at": "2026-11-21T16:00:00Z", "called_back_at": "2026-11-20T03:00:00Z",
                            "reasonable": True, "feedback_due_at": "2026-11-25T16:00:00Z", "overdue": True}],
        }.get(status or "", [])
        return httpx.Response(200, json=entries)
    return httpx.Response(404, json={"title": "Not Found", "status": 404})


async def test_the_ledger_warns_of_a_deadline_within_a_day_and_flags_an_overdue_one():
    clock = FrozenClock(datetime(2026, 11, 27, 2, 0, tzinfo=UTC))  # Friday 10:00 Beijing
    async with console_client({"ratings": _ledger}, clock=clock) as (client, login):
        login(Principal("sv-1", Role.SUPERVISOR))
        page = await client.get("/ledger", params={"sort": "owner"})
        asked = [r.url.params for r in client.routing.calls if r.url.path == "/ledger"]
    assert page.status_code == 200
    assert re.search(r'data-entry="CP1".*?badge at-risk">即将到期', page.text, re.S)
    assert re.search(r'data-entry="CP2".*?badge overdue">已超时', page.text, re.S)
    assert "负责人 o1（1 条）" in page.text and "负责人 o2（1 条）" in page.text
    assert {p.get("status") for p in asked} == {"open", "rectifying"} and all(p["mine"] == "false" for p in asked)


@pytest.mark.parametrize(("role", "path"), [
    (Role.APPLICANT, "/ledger"), (Role.HELPER, "/ledger/CP1"), (Role.OVERSIGHT, "/cards"),
    (Role.OPERATOR, "/cards"), (Role.WINDOW_STAFF, "/boxes"), (Role.WINDOW_STAFF, "/boxes/2026-11"),
])
async def test_a_role_without_access_is_refused(role, path):
    async with console_client({"ratings": _ledger}) as (client, login):
        login(Principal("x-1", role))
        page = await client.get(path)
        calls = list(client.routing.calls)
    assert page.status_code == 403 and "无权访问" in page.text
    assert calls == []  # refused before any service is asked


async def test_oversight_reads_the_ledger_without_forms_and_a_non_member_cannot_open_the_box():
    async with console_client({"ratings": _ledger}) as (client, login):
        ov = login(Principal("ov-1", Role.OVERSIGHT, department="service_center"))
        refused = await client.post("/ledger/CP1/callback", data={**_csrf(ov), "outcome": "x", "reasonable": "true"})
        opening = await client.post("/boxes", data={**_csrf(ov), "month": "2026-11"})
        page = await client.get("/ledger")
    assert refused.status_code == 403 and opening.status_code == 403
    assert page.status_code == 200 and "CP1" in page.text


def _answered_complaint(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/ledger/TS1/callback":
        return httpx.Response(409, json={"title": "Conflict", "status": 409, "detail": "entry TS1 was called back already"})
    if request.url.path == "/ledger/TS1":
        return httpx.Response(200, json={
            "entry_id": "TS1", "kind": "complaint", "case_number": "ZX1", "owner_id": "o1", "status": "answered",
            "opened_at": "2026-11-26T02:00:00Z", "callback_due_at": "2026-11-27T16:00:00Z",
            "called_back_at": "2026-11-26T03:00:00Z", "callback_outcome": "已回访", "reasonable": False,
            "explanation": "依法说明", "answered_at": "2026-11-26T04:00:00Z", "within_time_limit": True,
            "overdue": False})
    if request.url.path == "/requests/ZX1":
        return httpx.Response(200, json={"text": "窗口态度差，回电 13912345678", "submitted_at": "2026-11-26T02:00:00Z"})
    return httpx.Response(404, json={"title": "Not Found", "status": 404})


async def test_a_callback_someone_else_recorded_first_says_so_and_shows_the_entry_as_it_is_now():
    async with console_client({"ratings": _answered_complaint}) as (client, login):
        sv = login(Principal("sv-1", Role.SUPERVISOR))
        late = await client.post("/ledger/TS1/callback", data={**_csrf(sv), "outcome": "已回访", "reasonable": "true"})
    assert late.status_code == 422
    assert re.search(r'class="form-error" role="alert">此条目已有人办理或状态已变化', late.text)
    assert "记录回访" not in late.text and "解释说明已发送给评价人" in late.text
    assert "139****5678" in late.text and "13912345678" not in late.text  # the complaint, masked for a supervisor
