"""Browser tier: the console in a real Chromium (Playwright), over the platform as processes.

One platform for the tier (the services, the local SMS gateway and the console as processes on
the session's broker and database; databases of their own), logins through the test issuer's
OIDC login page exactly as users log in. Chromium is Debian's package (`make chromium`),
driven through ``executable_path``: Playwright's own browser download is not used.
Screenshots of each page go to ``docs/console/`` (README links them).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from devstack import catalog
from devstack.gateways import GatewayProcess
from devstack.issuer import load_users
from tests.infra import Infra
from tests.support.auth import token_issuer
from tests.support.processes import ROOT, ServiceProcess

SCREENSHOTS = ROOT / "docs" / "console"
PASSWORD = "one-window-dev"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str:
    found = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("no chromium on PATH: `make chromium` installs Debian's package")
    return found


@dataclass
class Platform:
    processes: dict[str, ServiceProcess]
    gateways: GatewayProcess
    ratings_clock: Path  # ratings reads its time from here (servicekit.fileclock) while it holds an instant

    def url(self, name: str) -> str:
        return self.processes[name].url


@pytest.fixture(scope="package")  # torn down after the tier: idle services cost the later tiers CPU
def platform(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    unique = uuid.uuid4().hex[:10]
    logs = tmp_path_factory.mktemp("browser")
    gateways = GatewayProcess(log_path=logs / "gateways.log").start()
    env = {"KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap, "MONGODB_URI": infra.mongodb_uri, **infra.consumer_env}
    listed = {s.name: s for s in catalog.services()}
    for s in listed.values():
        env[f"{s.env_prefix}MONGODB_DATABASE"] = f"{s.name}_{unique}"
    ratings_clock = logs / "ratings-clock"
    extra = {
        # a test month has a handful of ratings, not the 10 a window needs to be ranked
        "ratings": {"RATINGS_CLOCK_FILE": str(ratings_clock), "RATINGS_RANK_MIN_RATINGS": "2"},
        # every accepted case on the SLA board (its 1 working day is inside the horizon)
        "registration": {"REGISTRATION_AT_RISK_WITHIN_HOURS": "1000"},
        "notifications": {**gateways.settings_env(), "NOTIFICATIONS_DEFAULT_QUIET_HOURS": "off",
                          "NOTIFICATIONS_DELIVERY_POLL_SECONDS": "0.2"},
    }
    started: dict[str, ServiceProcess] = {}
    try:
        for name in ("registration", "approvals", "ratings", "notifications", "crossregion"):
            s = listed[name]
            started[name] = ServiceProcess(name, {**env, **extra.get(name, {})}, logs / f"{name}.log",
                                           app=f"{s.package}.main:app", env_prefix=s.env_prefix).start()
        [web] = [w for w in catalog.web() if w.name == "console"]
        console = ServiceProcess("console", {}, logs / "console.log", app=f"{web.package}.main:app",
                                 env_prefix=web.env_prefix)
        issuer = token_issuer()
        issuer.clients["console"] = [f"{console.url}/auth/callback"]
        issuer.users.update(load_users(ROOT / "config" / "dev-users.toml"))
        console.env.update({f"CONSOLE_{n.upper()}_URL": p.url for n, p in started.items()})
        console.env.update({"CONSOLE_PUBLIC_URL": console.url, "CONSOLE_SLA_REFRESH_SECONDS": "5"})
        started["console"] = console.start()
        yield Platform(started, gateways, ratings_clock)
    finally:
        for proc in reversed(list(started.values())):
            proc.stop()
        gateways.stop()


@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        yield b
        b.close()


@pytest.fixture
def new_page(browser, platform: Platform) -> Iterator[Callable[..., object]]:
    """``new_page()``: a fresh browser context (its own cookies: one user) at the console."""
    contexts = []

    def make(width: int = 1366, height: int = 900) -> object:
        ctx = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", base_url=platform.url("console"),
                                  viewport={"width": width, "height": height})
        ctx.set_default_timeout(15_000)
        contexts.append(ctx)
        page = ctx.new_page()
        page.console_url = platform.url("console")
        page.errors = []  # uncaught script errors and CSP violations, checked by the tests
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        # console errors (CSP violations: "Refused to ..."), except a page's own 4xx status,
        # which Chromium logs as "Failed to load resource" and the tests assert themselves
        page.on("console", lambda m: page.errors.append(m.text)
                if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
        return page

    yield make
    for ctx in contexts:
        ctx.close()


def login(page, username: str, path: str = "/") -> None:
    """Open ``path``; the console sends the browser to the issuer's login page; log in there."""
    page.goto(path)
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(lambda url: url.startswith(page.console_url))


def shot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
