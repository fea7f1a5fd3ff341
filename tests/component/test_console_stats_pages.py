"""The console's statistics, operations and hall pages over handler backends (every shape the
pages read, and services that are down, refuse or lack an endpoint) and over the real services
in-process (registration, approvals, ratings: their statistics, roster, hall and /ops/status)."""

from __future__ import annotations

import csv
import io
import re

import httpx
import pytest
from asgi_lifespan import LifespanManager

from approvals.bootstrap import create_app as approvals_app
from console.config import Settings
from notifications.bootstrap import create_app as notifications_app
from ratings.bootstrap import create_app as ratings_app
from registration.bootstrap import create_app as registration_app
from servicekit.principal import Principal, Role
from tests.support.auth import bearer
from tests.support.console import console_client

pytestmark = pytest.mark.component
PORTS = {"8001": "registration", "8002": "approvals", "8003": "ratings", "8004": "notifications",
         "8005": "crossregion"}


def _service(request: httpx.Request) -> str:
    return PORTS[str(request.url.port)]


def _report(request: httpx.Request) -> dict:
    by, month = request.url.params.get("by", "window"), request.url.params["month"]
    key = {"window": "W1", "department": "tax", "month": month}.get(by, "x")
    return {"month": month, "by": by, "rows": [{"key": key, "counts": {}, "online": 8, "paper": 2, "total": 10,
                                                "bad": 3, "satisfaction_rate": 0.7}],
            "ledger_entries": 3, "callback_rate": 0.6667, "reply_rate": 1.0, "not_called_back": ["QY-77"],
            "not_replied": [], "overdue_by_department": {"tax": 1}, "requests": 0, "request_reply_rate": 1.0,
            "requests_unanswered": []}


def statistics_backend(request: httpx.Request) -> httpx.Response:
    service, path = _service(request), request.url.path
    if service == "ratings" and path == "/statistics":
        return httpx.Response(200, json=_report(request))
    if service == "ratings" and path == "/windows":
        return httpx.Response(200, json=[{"window_id": "W1", "name": "=1+2 一号窗口", "department": "tax",
                                          "staff": [], "owner_id": None}])
    if service == "registration" and path == "/statistics":
        return httpx.Response(200, json={"month": request.url.params["month"], "matters": [
            {"kind": "startup", "submitted": 40, "completed": 36, "within_limit": 33, "attainment": 0.9167,
             "overdue_open": 2}]})  # no "today": a shape may differ slightly
    if service == "approvals" and path == "/statistics":
        return httpx.Response(200, json=[{"stage": "construction_permit", "completed": 8, "same_day": 6,
                                          "same_day_share": 0.75}])
    return httpx.Response(404, json={"title": "Not Found", "status": 404})


def _statistics_backends(*, without: str = "", **overrides):
    backends = {"ratings": statistics_backend, "registration": statistics_backend, "approvals": statistics_backend,
                **overrides}
    backends.pop(without, None)  # a service not given does not answer
    return backends


# -- 统计 ------------------------------------------------------------------------------------------------------------
async def test_the_statistics_page_draws_each_chart_with_its_table_and_csv_link():
    async with console_client(_statistics_backends()) as (client, login):
        login(Principal("sup-1", Role.SUPERVISOR))
        page = await client.get("/statistics", params={"month": "2026-11"})
        reads = [str(r.url) for r in client.routing.calls]
    assert page.status_code == 200
    assert len(reads) == len(set(reads)) == 11  # six months by month, window, department, roster, two services
    html = page.text
    names = re.findall(r'<canvas data-chart="chart-(\w+)" role="img" aria-label="[^"]+"', html)
    assert names == ["monthly", "windows", "departments", "sla", "startup"]
    for name in names:  # the spec beside each canvas, and its CSV
        assert f'<script type="application/json" id="chart-{name}">' in html
        assert f'href="/statistics/{name}.csv?month=2026-11"' in html
    assert "/static/vendor/chart.umd.min.js" in html and "<script>" not in html  # no inline script
    assert "<td>91.7</td>" in html and "<td>75.0</td>" in html  # start-up attainment, same-day share
    assert "66.7" in html and "QY-77" in html  # the callback rate and the case keeping it below 100 %
    assert 'scope="col">满意率（%）' in html and "<caption>满意率（按窗口）（2026-11）</caption>" in html


async def test_a_silent_service_leaves_its_sections_saying_so_and_the_rest_shows():
    async with console_client(_statistics_backends(without="registration")) as (client, login):
        login(Principal("sup-1", Role.SUPERVISOR))
        page = await client.get("/statistics", params={"month": "2026-11"})
        startup_csv = await client.get("/statistics/startup.csv", params={"month": "2026-11"})
    assert page.status_code == 200
    assert "暂无数据：企业开办登记服务暂时没有应答" in page.text
    assert '<script type="application/json" id="chart-windows">' in page.text  # ratings still drawn
    assert '<script type="application/json" id="chart-sla">' in page.text      # approvals' stages still drawn
    assert startup_csv.status_code == 503 and "暂无数据" in startup_csv.text


async def test_a_bad_month_is_named_beside_the_field():
    async with console_client(_statistics_backends()) as (client, login):
        login(Principal("sup-1", Role.SUPERVISOR))
        page = await client.get("/statistics", params={"month": "2026-13"})
        csv_page = await client.get("/statistics/windows.csv", params={"month": "11/2026"})
    assert page.status_code == 422 and 'id="e-month"' in page.text and "年-月" in page.text
    assert csv_page.status_code == 422 and "text/html" in csv_page.headers["content-type"]


async def test_the_csv_of_the_real_ratings_app_is_safe_against_a_formula_in_a_window_name(rat_settings):
    ratings = ratings_app(rat_settings)
    async with LifespanManager(ratings), console_client(_statistics_backends(ratings=ratings)) as (client, login):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=ratings), base_url="http://ratings") as direct:
            # the kit's Name refuses "=", "+" and "@"; a leading "-" passes and is a formula to a spreadsheet
            put = await direct.put("/windows/w1", headers=bearer("op-1", Role.OPERATOR),
                                   json={"name": "-SUM(1,2)", "department": "tax"})
            assert put.status_code == 200, put.text
        login(Principal("sup-1", Role.SUPERVISOR))
        got = await client.get("/statistics/windows.csv", params={"month": "2026-11"})
        login(Principal("staff-1", Role.WINDOW_STAFF))  # window staff read their own window, not the month's figures
        staff_page = await client.get("/statistics", params={"month": "2026-11"})
    assert got.status_code == 200 and got.headers["content-type"] == "text/csv; charset=utf-8"
    assert got.headers["content-disposition"] == 'attachment; filename="windows-2026-11.csv"'
    assert got.content.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM
    rows = list(csv.reader(io.StringIO(got.content.decode("utf-8-sig"))))
    assert rows[0][0] == "窗口" and rows[1][:3] == ["'-SUM(1,2)", "税务局", "0"]
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    assert staff_page.status_code == 403


async def test_the_statistics_page_over_the_real_services(reg_settings, apr_settings, rat_settings):
    reg, apr, rat = registration_app(reg_settings), approvals_app(apr_settings), ratings_app(rat_settings)
    async with LifespanManager(reg), LifespanManager(apr), LifespanManager(rat), console_client(
            {"registration": reg, "approvals": apr, "ratings": rat}) as (client, login):
        login(Principal("sup-1", Role.SUPERVISOR))
        page = await client.get("/statistics", params={"month": "2026-11"})
        startup = await client.get("/statistics/startup.csv", params={"month": "2026-11"})
    assert page.status_code == 200
    assert not re.search(r'class="warning"', page.text)  # every section read: no 暂无数据, 无权 or 尚未提供
    assert "<th scope=\"row\">企业开办</th>" in page.text and "<th scope=\"row\">施工许可</th>" in page.text
    assert startup.status_code == 200
    assert startup.content.decode("utf-8-sig").splitlines()[1] == "企业开办,0,0,0,0,0,"  # no attainment yet: empty


async def test_a_role_without_statistics_is_refused_the_page_and_its_csv():
    async with console_client(_statistics_backends()) as (client, login):
        anonymous = await client.get("/statistics/windows.csv")
        login(Principal("helper-1", Role.HELPER))
        page = await client.get("/statistics")
        export = await client.get("/statistics/windows.csv", params={"month": "2026-11"})
        calls = list(client.routing.calls)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login?next=")
    assert page.status_code == 403 and "无权访问" in page.text
    assert export.status_code == 403 and "一号窗口" not in export.text
    assert calls == []  # refused before any service was asked


# -- 运维 ------------------------------------------------------------------------------------------------------------
def ops_status(service: str) -> dict:
    return {"service": service, "checked_at": "2026-11-27T06:00:00Z", "ready": {"broker": True, "database": True},
            "outbox": {"pending": 4, "oldest_pending_age_seconds": 75.0, "retained": 120},
            "dead_letters": {"topic": f"{service}.dead-letter", "total": 2,
                             "by_reason": [{"source_topic": "registration.case-events.v1",
                                            "reason": "invalid event: missing case_number", "count": 2,
                                            "last_at": "2026-11-27T05:59:00Z"}],
                             "recent": [{"source_topic": "registration.case-events.v1",
                                         "reason": "invalid event: contact_phone 13912345678 is not an ID",
                                         "at": "2026-11-27T05:59:00Z", "key": "QY-20261127-0001"}]},
            "consumers": [{"group": f"{service}-cases", "topic": "registration.case-events.v1", "lag": 17}]}


def ops_backend(request: httpx.Request) -> httpx.Response:
    service, path = _service(request), request.url.path
    if path == "/readyz":
        if service == "approvals":
            return httpx.Response(503, json={"status": "not ready", "broker": True, "database": False})
        return httpx.Response(200, json={"status": "ready", "broker": True, "database": True})
    if path == "/ops/status":
        if "Authorization" not in request.headers:
            return httpx.Response(401, json={"title": "Unauthorized", "status": 401})
        if service == "ratings":  # this one has not got the endpoint yet
            return httpx.Response(404, json={"title": "Not Found", "status": 404})
        return httpx.Response(200, json=ops_status(service))
    if service == "notifications" and path == "/ops/subscriptions/health":
        return httpx.Response(200, json=[
            {"subscription_id": "sub-1", "agency_id": "city-bank", "enabled": True, "delivered_24h": 120,
             "failed_24h": 3, "pending": 5, "last_success_at": "2026-11-27T05:00:00Z",
             "last_failure_at": "2026-11-27T05:30:00Z", "last_failure_reason": "HTTP 503 from partner"}])
    return httpx.Response(404, json={"title": "Not Found", "status": 404})


async def test_the_operations_page_renders_with_one_service_down_and_one_without_status():
    backends = {s: ops_backend for s in ("registration", "approvals", "ratings", "notifications")}  # crossregion down
    async with console_client(backends) as (client, login):
        login(Principal("op-1", Role.OPERATOR))
        page = await client.get("/ops")
        fragment = await client.get("/ops/table", headers={"HX-Request": "true"})
    assert page.status_code == 200 and fragment.status_code == 200
    html = page.text
    row = {s: re.search(rf'<tr class="[^"]*" data-service="{s}">(.*?)</tr>', html, re.S).group(1)  # type: ignore[union-attr]
           for s in ("registration", "approvals", "ratings", "crossregion")}
    assert 'class="badge ok">正常' in row["registration"] and "<td>4</td>" in row["registration"]
    assert "1 分 15 秒" in row["registration"]
    assert 'class="badge at-risk">未就绪' in row["approvals"] and 'badge overdue">异常' in row["approvals"]
    assert 'class="badge overdue">无应答' in row["crossregion"]
    assert "—" in row["ratings"] and "尚未提供" in row["ratings"]
    assert "invalid event: missing case_number" in html and "QY-20261127-0001" in html
    assert "13912345678" not in html and "139****5678" in html  # operators are not entitled to personal data
    assert "registration-cases" in html and "<td>17</td>" in html  # consumer lag
    assert "city-bank" in html and "HTTP 503 from partner" in html
    assert 'hx-get="/ops/table" hx-trigger="every 30s"' in html
    assert "<html" not in fragment.text and 'data-service="crossregion"' in fragment.text


async def test_the_operations_page_is_for_operators_and_supervisors():
    async with console_client({}) as (client, login):
        login(Principal("staff-1", Role.WINDOW_STAFF))
        refused = await client.get("/ops")
        login(Principal("sup-1", Role.SUPERVISOR))
        all_down = await client.get("/ops")
    assert refused.status_code == 403
    assert all_down.status_code == 200 and all_down.text.count('class="badge overdue">无应答') == 5


# -- 大厅屏 ----------------------------------------------------------------------------------------------------------
PHONE = "13912345678"


def hall_backend(request: httpx.Request) -> httpx.Response:
    service, path = _service(request), request.url.path
    if service == "ratings" and path == "/lists/current":
        return httpx.Response(200, json=[{
            "month": "2026-10", "display_from": "2026-11-01T00:00:00Z", "display_until": "2026-11-30T16:00:00Z",
            "red": [{"kind": "window", "id": "w1", "name": "一号窗口", "ratings": 60, "satisfaction_rate": 0.9833,
                     "bad": 1},
                    {"kind": "staff", "id": "s1", "name": f"王五（{PHONE}）", "ratings": 30, "satisfaction_rate": 1.0,
                     "bad": 0}],
            "black": [{"kind": "window", "id": "w9", "name": "九号窗口", "ratings": 25, "satisfaction_rate": 0.8,
                       "bad": 5}]}])
    if service == "ratings" and path == "/hall":
        return httpx.Response(200, json={
            "windows": [{"window_id": "w1", "name": "一号窗口", "department": "market_supervision",
                         "business": ["企业开办", "营业执照变更"],
                         "staff_on_duty": [{"staff_id": "staff-0001", "name": f"赵六 {PHONE}", "phone": PHONE}]}],
            "today": {"date": "2026-11-27", "ratings": 42, "satisfaction": 0.9524}})
    if service == "registration" and path == "/statistics/today":
        return httpx.Response(200, json={"date": "2026-11-27", "submitted": 57, "completed": 31})
    return httpx.Response(404, json={"title": "Not Found", "status": 404})


async def test_the_hall_needs_no_login_and_shows_no_phone_number():
    async with console_client({"ratings": hall_backend, "registration": hall_backend}) as (client, _):
        page = await client.get("/hall")
        fragment = await client.get("/hall/slides", headers={"HX-Request": "true"})
        calls = list(client.routing.calls)
    assert page.status_code == 200
    html = page.text
    assert '<body class="hall" data-rotate="15">' in html and 'aria-label="主导航"' not in html  # no console nav
    assert html.count('class="slide') == 3
    assert ">红榜</h2>" in html and ">黑榜</h2>" in html and "一号窗口" in html and "九号窗口" in html
    assert ">57<" in html and ">31<" in html and ">42<" in html and "95.2%" in html
    assert "营业执照变更" in html and "赵六" in html and "市场监管局" in html
    assert PHONE not in html and PHONE not in fragment.text and "139****5678" in html
    assert "staff-0001" not in html  # accounts are not for the public
    assert 'hx-get="/hall/slides" hx-trigger="every 60s"' in html
    assert fragment.status_code == 200 and "<html" not in fragment.text and ">红榜</h2>" in fragment.text
    assert all("Authorization" not in r.headers for r in calls)  # public endpoints only, no one's token


async def test_one_screen_shows_one_slide():
    async with console_client({"ratings": hall_backend, "registration": hall_backend}) as (client, _):
        windows = await client.get("/hall", params={"screen": "windows"})
        unknown = await client.get("/hall", params={"screen": "<script>"})
    assert windows.text.count('class="slide') == 1 and "窗口业务" in windows.text and "红榜" not in windows.text
    assert 'hx-get="/hall/slides?screen=windows"' in windows.text
    assert unknown.status_code == 200 and unknown.text.count('class="slide') == 3 and "<script>" not in unknown.text


async def test_the_hall_over_the_real_ratings_and_registration_apps(rat_settings, reg_settings):
    ratings, registration = ratings_app(rat_settings), registration_app(reg_settings)
    settings = Settings(hall_rotate_seconds=20)
    async with LifespanManager(ratings), LifespanManager(registration), console_client(
            {"ratings": ratings, "registration": registration}, settings=settings) as (client, _):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=ratings), base_url="http://ratings") as direct:
            put = await direct.put("/windows/w3", headers=bearer("op-1", Role.OPERATOR), json={
                "name": "三号窗口", "department": "tax", "business": ["税务登记", "发票申领"], "staff": ["staff-0003"],
                "staff_names": {"staff-0003": f"钱七 {PHONE}"}})
            assert put.status_code == 200, put.text
        page = await client.get("/hall")
    assert page.status_code == 200 and 'data-rotate="20"' in page.text
    html = page.text
    assert ">红榜</h2>" in html and ">黑榜</h2>" in html and "暂无公示" in html  # nothing on display yet
    assert "三号窗口" in html and "税务登记、发票申领" in html and "税务局" in html and "钱七" in html
    assert PHONE not in html and "staff-0003" not in html
    figures = re.findall(r'<dd class="figure">([^<]*)</dd>', html)
    assert figures == ["0", "0", "0", "—"]  # fresh services: nothing submitted, completed or rated today
    assert "暂无数据" not in html


async def test_the_hall_with_every_service_down_says_no_data_on_each_slide():
    async with console_client({}) as (client, _):
        page = await client.get("/hall")
    assert page.status_code == 200 and ">红榜</h2>" in page.text and ">黑榜</h2>" in page.text
    assert page.text.count('class="empty">暂无数据') == 4  # red, black, today, windows


async def test_the_operations_page_over_the_real_services_status(rat_settings, ntf_settings):
    ratings, notifications = ratings_app(rat_settings), notifications_app(ntf_settings)
    backends = {"ratings": ratings, "notifications": notifications}  # the other three do not answer
    async with LifespanManager(ratings), LifespanManager(notifications), console_client(backends) as (client, login):
        login(Principal("op-1", Role.OPERATOR))
        page = await client.get("/ops")
    assert page.status_code == 200
    for service in ("ratings", "notifications"):
        row = re.search(rf'<tr class="[^"]*" data-service="{service}">(.*?)</tr>', page.text, re.S).group(1)  # type: ignore[union-attr]
        assert 'class="badge ok">正常' in row and "尚未提供" not in row and "无应答" not in row
        cells = re.findall(r"<td>([^<]*)</td>", row)
        assert len(cells) == 4 and cells[0].isdigit() and cells[3] == "0"  # outbox pending, ..., no dead letters
    assert page.text.count('class="badge overdue">无应答') == 3
    assert "没有订阅。" in page.text  # notifications' real /ops/subscriptions/health: none yet
