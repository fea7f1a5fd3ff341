"""The pure parts of the console's statistics, operations and hall pages: tables, chart specs,
health states, the hall's public data, and the hall's contrast."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from console import domain
from console.domain import reports
from console.domain.charts import Table
from servicekit.principal import Role

pytestmark = pytest.mark.unit
CSS = Path(__file__).parents[2] / "services/console/src/console/static/console.css"


def _report(rows, **extra):
    return {"month": "2026-11", "by": "window", "rows": rows, "ledger_entries": 0, "callback_rate": 1.0,
            "reply_rate": 1.0, "not_called_back": [], "not_replied": [], "overdue_by_department": {}, "requests": 0,
            "request_reply_rate": 1.0, "requests_unanswered": [], **extra}


def _row(key, total, bad, rate, online=None, paper=0):
    return {"key": key, "counts": {}, "online": total if online is None else online, "paper": paper, "total": total,
            "bad": bad, "satisfaction_rate": rate}


# -- months -------------------------------------------------------------------------------------------------
def test_months_back_crosses_the_year_and_ends_with_the_month():
    assert reports.months_back("2026-02", 4) == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert reports.months_back("2026-11")[-1] == "2026-11" and len(reports.months_back("2026-11")) == 6


def test_the_default_month_is_beijings():
    assert reports.month_of(datetime(2026, 11, 30, 16, 30, tzinfo=UTC)) == "2026-12"  # 00:30 on 1 December there
    assert reports.month_of(datetime(2026, 11, 30, 15, 30, tzinfo=UTC)) == "2026-11"


@pytest.mark.parametrize("text,ok", [("2026-11", True), ("2026-13", False), ("1999-01", False), ("2026-1", False),
                                     ("2026-11\n", False), ("", False), (None, False)])
def test_valid_month(text, ok):
    assert reports.valid_month(text) is ok


# -- statistics tables and their charts ---------------------------------------------------------------------
def test_satisfaction_by_month_sums_the_rows_and_leaves_a_gap_for_a_month_not_read():
    table = reports.monthly_table({"2026-10": None, "2026-11": _report([_row("2026-11", 8, 2, 0.75)]),
                                   "2026-12": _report([])})
    assert table.rows == [("2026-10", None, None, None), ("2026-11", 8, 2, 75.0), ("2026-12", 0, 0, None)]
    spec = table.spec()
    assert spec is not None and spec["type"] == "line"
    assert spec["data"]["labels"] == ["2026-10", "2026-11", "2026-12"]
    assert spec["data"]["datasets"][0]["data"] == [None, 75.0, None]
    assert spec["options"]["scales"]["y"]["max"] == 100


def test_satisfaction_by_window_names_every_window_of_the_roster_and_masks_a_phone_number():
    roster = [{"window_id": "W2", "name": "综合窗口 13912345678", "department": "tax"},
              {"window_id": "W1", "name": "一号窗口", "department": None}]
    table = reports.window_table(_report([_row("W1", 10, 1, 0.9, online=7, paper=3), _row("W9", 2, 0, 1.0)]), roster,
                                 Role.SUPERVISOR)
    assert table.rows == [("一号窗口", "—", 10, 7, 3, 1, 90.0),
                          ("综合窗口 139****5678", "税务局", 0, 0, 0, 0, None),  # no ratings: no rate, not 100 %
                          ("W9", "—", 2, 2, 0, 0, 100.0)]                     # rated, no longer on the roster
    spec = table.spec()
    assert spec is not None and spec["options"]["indexAxis"] == "y"
    assert spec["data"]["datasets"][0]["data"] == [90.0, None, 100.0]


def test_window_staff_may_read_the_numbers_unmasked():
    roster = [{"window_id": "W2", "name": "窗口 13912345678"}]
    assert reports.window_table(_report([]), roster, Role.WINDOW_STAFF).rows[0][0] == "窗口 13912345678"


def test_bad_ratings_by_department_most_first_with_the_overdue_ledger_entries():
    report = _report([_row("tax", 20, 1, 0.95), _row("market_supervision", 10, 4, 0.6)],
                     overdue_by_department={"tax": 1, "unknown": 2})
    table = reports.department_table(report)
    assert table.rows[0][0] == domain.DEPARTMENTS["market_supervision"] and table.rows[0][2] == 4
    assert (domain.DEPARTMENTS["tax"], 20, 1, 95.0, 1) in table.rows
    assert ("未知部门", 0, 0, None, 2) in table.rows
    spec = table.spec()
    assert spec is not None and [d["label"] for d in spec["data"]["datasets"]] == ["差评数", "差评整改逾期"]


REGISTRATION = {"month": "2026-11", "matters": [
    {"kind": "startup", "submitted": 12, "completed": 10, "within_limit": 9, "attainment": 0.9, "overdue_open": 1},
    {"kind": "change", "submitted": 0, "completed": 0, "within_limit": 0, "attainment": None, "overdue_open": 0}],
    "today": {"date": "2026-11-27", "submitted": 3, "completed": 1}}
APPROVALS = [{"stage": "construction_permit", "completed": 4, "same_day": 1, "same_day_share": 0.25},
             {"stage": "completion_acceptance", "completed": 0, "same_day": 0, "same_day_share": None}]


def test_sla_attainment_per_matter_joins_registration_and_the_approval_stages():
    table = reports.sla_table(REGISTRATION, APPROVALS)
    assert table.rows == [("企业开办", "时限内办结", 10, 9, 90.0), ("营业执照变更", "时限内办结", 0, 0, None),
                          ("施工许可", "当日办结", 4, 1, 25.0), ("竣工验收", "当日办结", 0, 0, None)]
    assert reports.sla_table(None, APPROVALS).rows == table.rows[2:]  # registration silent: the stages still show


def test_startup_attainment_splits_in_time_late_and_open():
    table = reports.startup_table(REGISTRATION)
    assert table.rows == [("企业开办", 12, 10, 9, 1, 1, 90.0)]
    spec = table.spec()
    assert spec is not None and spec["type"] == "doughnut"
    assert spec["data"]["labels"] == ["1 个工作日内办结", "超时办结", "逾期未办结"]
    assert spec["data"]["datasets"][0]["data"] == [9, 1, 1]
    assert reports.startup_table({"matters": [{"kind": "change"}]}).rows == []
    registration_words = {"matters": [{**REGISTRATION["matters"][0], "kind": "establishment"}]}
    assert reports.startup_table(registration_words).rows == table.rows
    assert reports.startup_table({"month": "2026-11"}).spec() is None  # a shape without matters: no chart, no error


def test_callback_and_reply_rates_name_what_keeps_them_below_100():
    f = reports.followup(_report([], ledger_entries=4, callback_rate=0.75, reply_rate=0.5, not_called_back=["QY-1"],
                                 not_replied=["QY-1", "QY-2"], requests=1, request_reply_rate=0.0,
                                 requests_unanswered=["R-1"]))
    assert f.table.rows == [("差评回访率", 4, 75.0, 1, "QY-1"), ("差评答复率", 4, 50.0, 2, "QY-1、QY-2"),
                            ("咨询投诉答复率", 1, 0.0, 1, "R-1")]
    assert reports.followup(_report([])).table.rows[0][2] is None  # nothing to call back: no rate, not 100 %
    assert reports.followup(None).table.rows == []


def test_a_csv_of_a_window_named_like_a_formula_is_inert():
    roster = [{"window_id": "W1", "name": '=HYPERLINK("http://evil","点我")'}, {"window_id": "W2", "name": "@SUM(A1)"}]
    table = reports.window_table(_report([]), roster, Role.SUPERVISOR)
    text = domain.to_csv(table.headers, table.rows)
    assert text.startswith("\ufeff")
    cells = [row[0] for row in csv.reader(io.StringIO(text.lstrip("\ufeff")))][1:]
    assert cells == ["'=HYPERLINK(\"http://evil\",\"点我\")", "'@SUM(A1)"]


@given(st.lists(st.tuples(st.text(min_size=1, max_size=8), st.integers(0, 10_000), st.integers(0, 100)),
                min_size=1, max_size=12))
def test_a_bar_chart_draws_exactly_the_numbers_of_its_table(rows):
    rows = [(k, t, min(b, t)) for k, t, b in rows]
    table = reports.department_table(_report([_row(k, t, b, 0.5) for k, t, b in rows]))
    spec = table.spec()
    assert spec is not None
    assert spec["data"]["datasets"][0]["data"] == table.column(2)
    assert spec["data"]["labels"] == [str(v) for v in table.column(0)]


def test_an_empty_table_has_no_chart():
    assert Table("x", "x", ("a",)).spec() is None


# -- operations ---------------------------------------------------------------------------------------------------
STATUS = {"service": "ratings", "checked_at": "2026-11-27T06:00:00Z", "ready": {"broker": True, "database": True},
          "outbox": {"pending": 3, "oldest_pending_age_seconds": 125.0, "retained": 40},
          "dead_letters": {"topic": "ratings.dead-letter", "total": 5,
                           "by_reason": [{"source_topic": "cases.v1", "reason": "bad event", "count": 2,
                                          "last_at": "2026-11-27T05:00:00Z"},
                                         {"source_topic": "cases.v1", "reason": "unknown case", "count": 3,
                                          "last_at": "2026-11-27T04:00:00Z"}],
                           "recent": [{"source_topic": "cases.v1", "reason": "bad event", "at": "2026-11-27T05:00:00Z",
                                       "key": "QY-1"},
                                      {"source_topic": "cases.v1", "reason": "unknown case",
                                       "at": "2026-11-27T05:30:00Z", "key": "QY-2"}]},
          "consumers": [{"group": "ratings", "topic": "cases.v1", "lag": 7}]}


def test_a_service_is_ready_not_ready_or_down_from_its_readyz():
    ready = reports.service_health("ratings", (200, {"status": "ready", "broker": True, "database": True}), STATUS)
    not_ready = reports.service_health("approvals", (503, {"status": "not ready", "broker": False, "database": True}),
                                       None, "尚未提供")
    down = reports.service_health("crossregion", (None, "ConnectError"), None, "无应答")
    assert (ready.state, ready.state_text, ready.checks) == ("ready", "正常", {"broker": True, "database": True})
    assert (not_ready.state, not_ready.checks) == ("not_ready", {"broker": False, "database": True})
    assert (down.state, down.state_text, down.checks, down.status_note) == ("down", "无应答", {}, "无应答")
    assert reports.service_health("x", (500, None), None).state == "down"
    assert ready.errors == [] and reports.service_health("x", (200, {}), {"errors": ["lag: timeout"]}).errors == [
        "lag: timeout"]


def test_the_operations_board_sums_backlogs_and_orders_dead_letters():
    board = reports.OpsBoard([reports.service_health("ratings", (200, {"broker": True, "database": True}), STATUS),
                              reports.service_health("crossregion", (None, "ConnectError"), None, "无应答")],
                             [{"subscription_id": "s1", "enabled": True, "failed_24h": 2},
                              {"subscription_id": "s2", "enabled": True, "failed_24h": 0}])
    assert (board.ready, board.outbox_pending, board.dead_letter_total, board.failing_subscriptions) == (1, 3, 5, 1)
    assert [r[2] for r in board.dead_letter_reasons()] == ["unknown case", "bad event"]  # most first
    assert [r[4] for r in board.recent_dead_letters()] == ["QY-2", "QY-1"]              # newest first
    assert board.recent_dead_letters()[0][3] == "2026-11-27 13:30"                        # Beijing time
    assert board.consumers() == [("好差评", "ratings", "cases.v1", 7)]


@pytest.mark.parametrize("seconds,text", [(None, "—"), (-1, "—"), ("5", "—"), (0, "0 秒"), (59.9, "59 秒"),
                                          (125, "2 分 05 秒"), (3600 * 2 + 7 * 60, "2 小时 07 分"),
                                          (86400 + 3 * 3600, "1 天 3 小时")])
def test_duration(seconds, text):
    assert reports.duration(seconds) == text


# -- the hall -----------------------------------------------------------------------------------------------------
def _ranked(name, rate=0.98, kind="window"):
    return {"kind": kind, "id": "x", "name": name, "ratings": 40, "satisfaction_rate": rate, "bad": 0}


def test_the_hall_shows_the_latest_list_on_display_with_phone_numbers_masked():
    lists = [{"month": "2026-09", "display_from": "2026-10-01T00:00:00Z", "display_until": "2026-11-30T00:00:00Z",
              "red": [_ranked("旧窗口")], "black": []},
             {"month": "2026-10", "display_from": "2026-11-01T00:00:00Z", "display_until": "2026-11-30T16:00:00Z",
              "red": [_ranked("一号窗口"), _ranked("张三 13912345678", kind="staff")],
              "black": [_ranked("九号窗口", 0.6)]}]
    board = reports.hall_list(lists)
    assert board is not None and board.month == "2026-10" and board.until == "2026-12-01"
    assert [(r.name, r.kind, r.satisfaction) for r in board.red] == [("一号窗口", "窗口", 98.0),
                                                                     ("张三 139****5678", "工作人员", 98.0)]
    assert [r.name for r in board.black] == ["九号窗口"]
    assert reports.hall_list([]) is None and reports.hall_list({"oops": 1}) is None


def test_todays_figures_take_what_each_service_gave():
    now = datetime(2026, 11, 27, 17, 0, tzinfo=UTC)  # 01:00 on the 28th in Beijing
    both = reports.hall_today(now, {"date": "2026-11-28", "submitted": 5, "completed": 2},
                              {"today": {"date": "2026-11-28", "ratings": 4, "satisfaction": 0.75}})
    assert both == reports.Today("2026-11-28", 5, 2, 4, 75.0) and not both.empty
    only_ratings = reports.hall_today(now, None, {"today": {"ratings": 0, "satisfaction": None}})
    assert (only_ratings.submitted, only_ratings.ratings, only_ratings.satisfaction) == (None, 0, None)
    assert reports.hall_today(now, None, None).empty
    nested = reports.hall_today(now, {"month": "2026-11", "today": {"submitted": 7, "completed": 6}}, None)
    assert (nested.submitted, nested.completed) == (7, 6)


def test_the_windows_slide_shows_names_never_accounts_or_numbers():
    hall = {"windows": [{"window_id": "W1", "name": "一号窗口", "department": "tax", "business": ["企业开办", 3],
                         "staff_on_duty": [{"staff_id": "staff-007", "name": "李四 13812345678"}, {"staff_id": "x"}]}]}
    [w] = reports.hall_windows(hall)
    assert w == reports.HallWindow("一号窗口", "税务局", ["企业开办"], ["李四 138****5678"])
    assert reports.hall_windows(None) == [] and reports.hall_windows({"windows": "no"}) == []


# -- the hall's contrast (WCAG 2: at least 7:1, level AAA) ------------------------------------------------------------
def _luminance(hex_colour: str) -> float:
    h = hex_colour.lstrip("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    channels = [int(h[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_contrast_helper_matches_known_values():
    assert round(contrast("#000", "#fff"), 1) == 21.0
    assert round(contrast("#767676", "#fff"), 1) == 4.5


def test_every_text_colour_of_the_hall_has_7_to_1_against_its_background():
    rules = re.findall(r"(body\.hall[^{]*)\{([^}]*)\}", CSS.read_text(encoding="utf-8"))
    background = next(re.search(r"background:\s*(#[0-9a-fA-F]{3,6})", body).group(1)  # type: ignore[union-attr]
                      for selector, body in rules if selector.strip() == "body.hall")
    colours = {(sel.strip(), c) for sel, body in rules for c in re.findall(r"(?<![-\w])color:\s*(#[0-9a-fA-F]{3,6})", body)}
    backgrounds = {c for _, body in rules for c in re.findall(r"background:\s*(#[0-9a-fA-F]{3,6})", body)}
    assert len(colours) >= 8 and backgrounds == {background}
    low = {(sel, c, round(contrast(c, background), 1)) for sel, c in colours if contrast(c, background) < 7}
    assert not low
