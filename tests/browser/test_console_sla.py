"""The supervision office's morning: log in, find the case at risk, assign a helper; a user
without the role is refused; bad input gets a message beside the field; a phone call answered
from the case lookup."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import Platform, login, shot
from tests.browser.flows import accepted_case

pytestmark = pytest.mark.browser


def test_log_in_find_the_case_at_risk_and_assign_a_helper(platform: Platform, new_page):
    number = accepted_case(platform.url("registration"), "兰州看板测试科技有限公司")
    page = new_page()
    page.goto("/sla")
    shot(page, "login")  # the identity provider's page (the console never sees the password)
    login(page, "supervisor1", "/sla")
    assert page.url.endswith("/sla")
    row = page.locator(f"tr[data-case='{number}']")
    row.wait_for()
    assert "预警" in row.inner_text() and "兰州看板测试科技有限公司" in row.inner_text()
    shot(page, "sla-board")

    row.get_by_role("link", name=re.compile("指派帮办")).click()
    page.get_by_label("帮办人员账号").fill("bad id!")
    page.get_by_role("button", name="指派").click()
    error = page.locator("#e-helper_id")
    assert "格式不正确" in error.inner_text()
    assert page.get_by_label("帮办人员账号").get_attribute("aria-invalid") == "true"
    shot(page, "form-error")

    page.get_by_label("帮办人员账号").fill("helper1")
    page.get_by_role("button", name="指派").click()
    page.get_by_role("status").filter(has_text=f"已为 {number} 指派帮办").wait_for()
    assert "helper1" in page.locator(f"tr[data-case='{number}']").inner_text()
    assert page.errors == []


def test_a_user_without_the_role_is_refused(platform: Platform, new_page):
    page = new_page()
    login(page, "reviewer_tax", "/sla")
    assert page.get_by_role("heading", name="无权访问").is_visible()
    assert "时限看板" not in page.locator("main").inner_text()
    response = page.goto("/lookup")
    assert response is not None and response.status == 403
    shot(page, "forbidden")


def test_window_staff_answer_a_phone_call_from_the_case_lookup(platform: Platform, new_page):
    number = accepted_case(platform.url("registration"), "兰州查询电话科技有限公司")
    page = new_page()
    login(page, "window1", "/lookup")
    page.get_by_label("办件编号").fill(number)
    page.keyboard.press("Enter")
    page.get_by_role("heading", name=re.compile(number)).wait_for()
    assert "兰州查询电话科技有限公司" in page.locator("main").inner_text()
    assert page.locator("ol.timeline li").filter(has_text="办理").count() >= 2  # submitted, accepted
    shot(page, "lookup")
    assert page.errors == []
