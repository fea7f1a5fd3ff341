"""Every page usable from the keyboard and by a screen reader: the first Tab lands on the skip
link, which moves focus to the page's content; every form control has a label; every chart
has a text alternative (and its numbers are a table beside it)."""

from __future__ import annotations

import pytest

from tests.browser.conftest import Platform, login

pytestmark = pytest.mark.browser

PAGES = ("/sla", "/lookup", "/ledger", "/cards", "/boxes", "/statistics", "/ops")
UNLABELLED = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
    .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map(e => e.outerHTML)"""
NO_TEXT_ALTERNATIVE = """() => [...document.querySelectorAll('canvas, img, svg')]
    .filter(e => !e.getAttribute('aria-label') && !e.getAttribute('alt') && e.getAttribute('aria-hidden') !== 'true')
    .map(e => e.outerHTML.slice(0, 120))"""


def test_every_page_has_a_skip_link_labelled_controls_and_described_charts(platform: Platform, new_page):
    page = new_page()
    login(page, "supervisor1", "/sla")
    for path in PAGES:
        page.goto(path)
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.textContent.trim()") == "跳到正文", path
        page.keyboard.press("Enter")
        assert page.evaluate("() => location.hash") == "#main", path
        assert page.evaluate(UNLABELLED) == [], path
        assert page.evaluate(NO_TEXT_ALTERNATIVE) == [], path
    assert page.errors == []


def test_the_hall_screen_needs_no_login_and_has_no_controls(platform: Platform, new_page):
    page = new_page(1920, 1080)
    response = page.goto("/hall")
    assert response is not None and response.status == 200
    assert page.evaluate("() => document.documentElement.lang") == "zh-CN"
    assert page.locator("input, select, textarea, form").count() == 0
    assert page.errors == []
