"""好差评 in the console: a ledger owner calls back a bad rating and reports the rectification;
paper cards issued and reconciled with the mismatch alarm; the month's box opened, counted and
signed by the three oversight bodies, after which the hall screen shows the red/black list;
the leaders' statistics and the operators' page."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
import pytest

from ratings.domain import make_serial
from servicekit.auth import Role
from servicekit.clock import CN_TZ
from servicekit.fileclock import FileClock
from tests.browser.conftest import Platform, login, shot
from tests.browser.flows import accepted_case, decide_all
from tests.support.auth import bearer
from tests.support.waiting import wait_for

pytestmark = pytest.mark.browser

OPERATOR, SUPERVISOR = bearer("operator1", Role.OPERATOR), bearer("supervisor1", Role.SUPERVISOR)


@pytest.fixture(scope="module")
def windows(platform: Platform) -> dict[str, str]:
    """The hall's roster: two windows, their staff and the owner of window 1's bad ratings."""
    rat = platform.url("ratings")
    roster = {
        "w1": {"name": "综合受理1号窗口", "department": "market_supervision", "staff": ["window1"],
               "staff_names": {"window1": "王窗口"}, "owner_id": "owner1", "business": ["企业开办", "营业执照变更"]},
        "w2": {"name": "综合受理2号窗口", "department": "housing_construction", "staff": ["window2"],
               "staff_names": {"window2": "刘窗口"}, "owner_id": "supervisor1", "business": ["工程建设项目审批"]},
    }
    for window_id, body in roster.items():
        r = httpx.put(f"{rat}/windows/{window_id}", headers=OPERATOR, json=body)
        assert r.status_code == 200, r.text
    return {k: str(v["name"]) for k, v in roster.items()}


def test_record_a_callback_and_a_rectification_on_a_bad_rating(platform: Platform, windows, new_page):
    reg, rat = platform.url("registration"), platform.url("ratings")
    number = accepted_case(reg, "兰州台账测试科技有限公司", staff="window1")
    decide_all(reg, number)

    def rated() -> bool:  # once ratings has the completed case, the applicant rates it badly in the app
        r = httpx.post(f"{rat}/cases/{number}/rating", headers=bearer("applicant1"),
                       json={"level": "dissatisfied", "comment": "材料清单没有一次讲清楚，跑了两趟"})
        return r.status_code == 200

    wait_for(rated, timeout=60, what="the case rateable and rated")
    wait_for(lambda: [e for e in httpx.get(f"{rat}/ledger", headers=SUPERVISOR).json()
                      if e["case_number"] == number], timeout=30, what="the ledger entry")

    page = new_page()
    login(page, "owner1", "/ledger")
    row = page.get_by_role("row").filter(has_text=number)
    row.wait_for()
    shot(page, "ledger")
    row.get_by_role("link").first.click()
    page.get_by_label("回访结果").fill("已电话回访申请人，反映材料清单未一次告知，情况属实")
    page.get_by_label("诉求是否合理").select_option("true")
    page.get_by_role("button", name="记录回访").click()
    page.get_by_label("整改反馈").wait_for()
    page.get_by_label("整改反馈").fill("已在窗口张贴企业开办材料清单，并由帮办人员一次性告知")
    page.get_by_role("button", name="提交整改反馈").click()
    page.get_by_role("status").first.wait_for()
    entry = next(e for e in httpx.get(f"{rat}/ledger", headers=SUPERVISOR).json() if e["case_number"] == number)
    assert entry["status"] not in ("open", "rectifying") and entry.get("answered_at"), entry
    assert "已张贴" in page.locator("main").inner_text() or "张贴" in page.locator("main").inner_text()
    shot(page, "ledger-entry")
    assert page.errors == []


def test_cards_issued_in_the_morning_and_reconciled_in_the_evening_raise_the_mismatch_alarm(
        platform: Platform, windows, new_page):
    today = datetime.now(UTC).astimezone(CN_TZ).date()
    first, last = make_serial(2611000101), make_serial(2611000103)
    page = new_page()
    login(page, "supervisor1", "/cards")
    page.get_by_label("窗口").select_option("w1")
    page.get_by_label("工作人员").select_option("window1")
    page.get_by_label("发放日期").fill(today.isoformat())
    page.get_by_label("起始编号").fill(first)
    page.get_by_label("结束编号").fill(last)
    page.get_by_role("button", name="发放").click()
    page.get_by_role("status").first.wait_for()
    # the evening: nothing came back, so the day does not add up
    page.get_by_role("button", name=re.compile("对账.*综合受理1号窗口")).click()
    alarm = page.get_by_role("alert").filter(has_text="综合受理1号窗口")
    alarm.first.wait_for()
    shot(page, "cards")
    assert page.errors == []


def test_a_full_box_opening_with_three_sign_offs_puts_the_list_on_the_hall_screen(platform: Platform, windows,
                                                                                  new_page):
    rat = platform.url("ratings")
    now = datetime.now(UTC).astimezone(CN_TZ)
    month = now.strftime("%Y-%m")
    good = [make_serial(2611000201 + i) for i in range(3)]  # window 2's, all in the good slot
    bad = [make_serial(2611000301 + i) for i in range(2)]   # window 1's, in the bad slot
    for window, staff, cards in (("w2", "window2", good), ("w1", "window1", bad)):
        r = httpx.post(f"{rat}/cards/issues", headers=bearer(staff, Role.WINDOW_STAFF),
                       json={"day": now.date().isoformat(), "window_id": window, "staff_id": staff,
                             "first": cards[0], "count": len(cards)})
        assert r.status_code in (200, 201), r.text
    # the first working morning of the next month (ratings reads its time from the clock file)
    next_month = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, 9, 0, tzinfo=CN_TZ)
    FileClock.set(platform.ratings_clock, next_month)
    try:
        page = new_page()
        login(page, "supervisor1", "/boxes")
        page.locator("#f-month").fill(month)  # the "open a month" form (another field views one)
        page.get_by_role("button", name="开启计票").click()
        page.wait_for_url(re.compile(f"/boxes/{month}"))
        forged = make_serial(2619999999)  # never issued: flagged, not counted
        for window, slot, cards in (("w2", "good", [*good, forged]), ("w1", "bad", bad)):
            page.get_by_label("窗口").select_option(window)
            page.get_by_label("投票口").select_option(slot)
            page.get_by_label("卡片编号").fill("\n".join(cards))  # a scanner types each serial and Enter
            page.get_by_role("button", name="录入").click()
            page.get_by_role("status").first.wait_for()
        page.get_by_role("heading", name=re.compile("可疑卡片（1）")).wait_for()

        for member in ("oversight1", "oversight2", "oversight3"):
            signer = new_page()
            login(signer, member, f"/boxes/{month}")
            signer.get_by_role("button", name="签字确认").click()
            signer.get_by_role("status").first.wait_for()
        page.reload()
        page.get_by_role("heading", name="已终审：三家监督单位均已签字").wait_for()
        shot(page, "box-opening")
        assert page.errors == []

        r = httpx.post(f"{rat}/lists", headers=SUPERVISOR, json={"month": month, "display_days": 15})
        assert r.status_code in (200, 201), r.text
        hall = new_page(1920, 1080)
        hall.goto("/hall?screen=list")  # public: no login
        hall.get_by_role("heading", name="红榜", exact=True).wait_for()
        assert hall.get_by_role("heading", name="黑榜", exact=True).is_visible()
        red, black = hall.locator("section").filter(has=hall.get_by_role("heading", name="红榜", exact=True)), \
            hall.locator("section").filter(has=hall.get_by_role("heading", name="黑榜", exact=True))
        assert windows["w2"] in red.last.inner_text() and windows["w1"] in black.last.inner_text()
        shot(hall, "hall-list")
        hall.goto("/hall?screen=today")
        shot(hall, "hall-today")
        hall.goto("/hall?screen=windows")
        assert "工程建设项目审批" in hall.locator("main").inner_text()
        shot(hall, "hall-windows")
        assert hall.errors == []
    finally:
        platform.ratings_clock.unlink(missing_ok=True)


def test_leaders_read_the_statistics_and_operators_the_platforms_health(platform: Platform, windows, new_page):
    page = new_page()
    login(page, "supervisor1", "/statistics")
    page.locator("canvas[data-chart]").first.wait_for()
    page.wait_for_function("() => [...document.querySelectorAll('canvas[data-chart]')].every(c => c.dataset.drawn)")
    assert page.get_by_role("link", name=re.compile("CSV")).count() >= 3
    shot(page, "statistics")
    assert page.errors == []

    ops = new_page()
    login(ops, "operator1", "/ops")
    for service in ("registration", "approvals", "ratings", "notifications", "crossregion"):
        assert ops.locator(f"[data-service='{service}']").first.is_visible()
    assert ops.locator(".badge.overdue").count() == 0  # every service answers
    shot(ops, "ops")
    assert ops.errors == []
