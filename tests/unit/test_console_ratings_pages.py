"""The console's pure helpers for the ratings pages: deadline badges, the ledger's rows, groups,
allowed forms and history, card serials typed or scanned, the day's report, the box's sign-offs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.iso7064 import mod_11_2

from console import domain
from console.forms import CallbackForm, IssueForm, VotesForm
from console.web import parse
from servicekit.principal import Role

NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # Friday 10:00 Beijing


def serial(body: int) -> str:
    digits = f"{body:010d}"
    return digits + mod_11_2.calc_check_digit(digits)


def entry(**kw) -> dict:
    base = {"entry_id": "CP1", "kind": "bad_rating", "case_number": "QY-1", "owner_id": "o1", "status": "open",
            "opened_at": "2026-11-26T02:00:00Z", "callback_due_at": "2026-11-27T16:00:00Z", "called_back_at": None,
            "reasonable": None, "feedback_due_at": None, "overdue": False}
    return {**base, **kw}


# -- deadlines --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("left", "kind", "label"), [
    (timedelta(days=2), "ok", "未到期"), (timedelta(days=1, seconds=1), "ok", "未到期"),
    (timedelta(days=1), "at-risk", "即将到期"), (timedelta(hours=3), "at-risk", "即将到期"),
    (timedelta(0), "at-risk", "即将到期"), (-timedelta(seconds=1), "overdue", "已超时"),
])
def test_a_deadline_within_a_day_is_warned_and_a_past_one_overdue(left, kind, label):
    assert domain.deadline_badge(NOW + left, NOW) == domain.Badge(kind, label)


def test_the_services_overdue_mark_wins_and_no_deadline_has_no_badge():
    assert domain.deadline_badge(NOW + timedelta(days=3), NOW, overdue=True).kind == "overdue"
    assert domain.deadline_badge(None, NOW) is None


# -- the ledger -------------------------------------------------------------------------------------------
def test_each_state_waits_for_its_own_step_and_deadline():
    waiting = domain.ledger_row(entry(), NOW)
    assert (waiting.step, waiting.state, waiting.badge.kind) == ("callback", "待电话回访", "at-risk")
    assert waiting.due_at == datetime(2026, 11, 27, 16, tzinfo=UTC)
    rectifying = domain.ledger_row(entry(status="rectifying", called_back_at="2026-11-26T03:00:00Z", reasonable=True,
                                         feedback_due_at="2026-12-01T16:00:00Z"), NOW)
    assert (rectifying.step, rectifying.badge.kind) == ("feedback", "ok")
    assert rectifying.due_at == datetime(2026, 12, 1, 16, tzinfo=UTC)
    late = domain.ledger_row(entry(status="rectifying", called_back_at="x", feedback_due_at="2026-12-01T16:00:00Z",
                                   overdue=True), NOW)
    assert late.badge.label == "已超时"
    explaining = domain.ledger_row(entry(called_back_at="2026-11-26T03:00:00Z", reasonable=False), NOW)
    assert (explaining.step, explaining.state, explaining.badge) == ("explanation", "待解释说明", None)
    answered = domain.ledger_row(entry(status="answered", answered_at="2026-11-26T05:00:00Z"), NOW)
    assert (answered.step, answered.badge, answered.pending) == ("", None, False)


def test_the_ledger_sorts_by_deadline_and_groups_by_owner():
    entries = [entry(entry_id="A", owner_id="o2", callback_due_at="2026-11-30T16:00:00Z"),
               entry(entry_id="B", owner_id="o1", callback_due_at="2026-11-26T16:00:00Z"),
               entry(entry_id="C", owner_id="o2", status="answered"),
               entry(entry_id="D", owner_id="o1", called_back_at="2026-11-26T03:00:00Z", reasonable=False)]
    [(none, rows)] = domain.ledger_groups(entries, NOW)
    assert none is None and [r.entry_id for r in rows] == ["B", "A", "D"]  # answered C left out; no deadline last
    assert [r.badge.kind if r.badge else None for r in rows] == ["overdue", "ok", None]
    everything = domain.ledger_groups(entries, NOW, status="all", sort="owner")
    assert [(owner, [r.entry_id for r in rows]) for owner, rows in everything] == [("o1", ["B", "D"]),
                                                                                  ("o2", ["A", "C"])]


def test_only_the_forms_the_state_allows_and_only_to_the_owner_or_a_supervisor():
    open_, rectifying = entry(), entry(status="rectifying", called_back_at="x", reasonable=True)
    explaining, answered = entry(called_back_at="x", reasonable=False), entry(status="answered")
    assert domain.entry_actions(open_, Role.WINDOW_STAFF, "o1") == {"callback"}
    assert domain.entry_actions(rectifying, Role.WINDOW_STAFF, "o1") == {"feedback"}
    assert domain.entry_actions(explaining, Role.SUPERVISOR, "sv") == {"explanation"}
    assert domain.entry_actions(answered, Role.SUPERVISOR, "sv") == frozenset()
    assert domain.entry_actions(open_, Role.WINDOW_STAFF, "someone-else") == frozenset()
    assert domain.entry_actions(open_, Role.OVERSIGHT, "o1") == frozenset()


def test_the_history_tells_the_entry_in_order():
    rating = {"level": "very_dissatisfied", "channel": "window_device", "rated_at": "2026-11-26T01:59:00Z",
              "comment": "等太久"}
    done = entry(status="answered", called_back_at="2026-11-26T03:00:00Z", reasonable=True, callback_outcome="属实",
                 feedback_due_at="2026-12-01T16:00:00Z", feedback="已整改", answered_at="2026-11-27T01:00:00Z",
                 within_time_limit=True)
    history = domain.entry_history(done, rating)
    assert [h.what.split("：")[0].split("，")[0] for h in history] == ["评价", "登记入台账", "电话回访", "整改反馈已发送给评价人"]
    assert history[0].detail == "等太久" and history[2].detail == "属实" and history[3].detail == "已整改"
    assert "2026-12-02 00:00" in history[2].what  # the 3-working-day deadline, in Beijing time


# -- serials ----------------------------------------------------------------------------------------------
def test_serials_are_trimmed_blank_lines_dropped_and_numbered_by_their_line():
    text = f"  {serial(1).lower()}  \r\n\n{serial(2)}\n   \n{serial(3)}\n"
    assert domain.parse_serials(text) == [(1, serial(1).upper()), (3, serial(2)), (5, serial(3))]


@pytest.mark.parametrize(("text", "words"), [
    ("", "请填写卡片编号"), ("\n \n", "请填写卡片编号"),
    (f"{serial(1)}\nabc", "第 2 行「abc」不是卡片编号"),
    (f"{serial(1)}\n\n{serial(2)[:-1]}", "第 3 行"),
    (serial(7)[:-1] + ("0" if serial(7)[-1] != "0" else "1"), "第 1 行"),
    (f"{serial(1)} {serial(2)}", "不是卡片编号"),
    ("x" * 300, "…"),
])
def test_text_that_is_no_serial_is_refused_with_its_line(text, words):
    with pytest.raises(domain.SerialsRefused, match=words):
        domain.parse_serials(text)


def test_a_wrong_check_character_says_so_and_too_many_serials_are_refused():
    typo = serial(7)[:-1] + ("0" if serial(7)[-1] != "0" else "1")
    assert domain.serial_problem(typo) == "校验码不对，可能输错了一位或颠倒了两位"
    assert domain.serial_problem(serial(7)) is None
    with pytest.raises(domain.SerialsRefused, match="一次最多 3 张，这里有 4 张"):
        domain.parse_serials("\n".join(serial(i) for i in range(4)), limit=3)


@given(st.lists(st.integers(min_value=0, max_value=10**10 - 1), min_size=1, max_size=20))
def test_any_valid_serials_come_back_in_order(bodies):
    serials = [serial(b) for b in bodies]
    assert [s for _, s in domain.parse_serials("\n\n".join(serials))] == serials


def test_a_range_counts_both_ends_and_refuses_backwards_or_too_long():
    assert domain.serial_range(serial(100), serial(149)) == (50, {})
    assert domain.serial_range(serial(100), serial(100)) == (1, {})
    assert domain.serial_range(serial(100), serial(99))[1] == {"last": "结束编号不能小于起始编号"}
    assert "最多发放 500 张" in domain.serial_range(serial(0), serial(500))[1]["last"]
    assert set(domain.serial_range("12", serial(5))[1]) == {"first"}


def test_a_services_refusal_of_one_serial_lands_on_the_textarea_with_its_line():
    never = {"status": 422, "detail": "card 26110000053 was never issued",
             "errors": [{"field": "serials.1", "message": "card 26110000053 was never issued",
                         "type": "unknown_reference"}]}
    assert domain.ratings_errors(never, serials=[(2, serial(1)), (5, "26110000053")]) == {"serials": "第 5 行：这张卡从未发放",
                                                          "_": "没有办成，请按提示修改后再提交。"}
    odd = {"errors": [{"field": "body.votes.0.serial", "message": "bad", "type": "x"}]}
    assert domain.ratings_errors(odd, serials=[(4, serial(1))])["serials"] == "第 4 行：bad"  # the service's words when unknown
    used = {"status": 409, "detail": "card 26110000053 is used, not issued",
            "errors": [{"field": "serials", "message": "card 26110000053 is used, not issued", "type": "form_rule"}]}
    assert domain.ratings_errors(used, serials=[(1, serial(1)), (3, "26110000053")])["serials"] == (
        "第 3 行：卡片 26110000053 已投入评价箱，不能再登记")  # the line of the serial the message names
    assert domain.ratings_errors(used)["serials"] == "卡片 26110000053 已投入评价箱，不能再登记"


def test_ratings_refusals_read_in_chinese_where_the_rule_is_known():
    window = {"errors": [{"field": "window_id", "message": "no window w9", "type": "unknown_reference"}]}
    roster = {"errors": [{"field": "staff_id", "message": "s9 does not work at window w1", "type": "roster_rule"}]}
    assert domain.ratings_errors(window)["window_id"] == "没有这个窗口"
    assert domain.ratings_errors(roster)["staff_id"] == "此工作人员不在所选窗口"
    final = {"status": 409, "detail": "the box opening of 2026-11 is final: nothing changes after the sign-offs"}
    assert domain.ratings_errors(final) == {"_": "本月计票已终审，不能再录入或更改"}
    twice = {"status": 422, "detail": "account ov-1 signed this month already: three distinct accounts sign",
             "errors": [{"field": "account", "message": "account ov-1 signed this month already: three distinct "
                         "accounts sign", "type": "role_rule"}]}
    assert domain.ratings_summary(twice) == "已经签过字：三家监督单位须由三个不同账号分别签字"
    assert domain.ratings_summary({"status": 422, "detail": "something new"}) == "something new"


# -- the day's report and the box -------------------------------------------------------------------------------
def test_the_days_report_lists_every_window_with_mismatches_first():
    windows = [{"window_id": "w1", "name": "一号窗口"}, {"window_id": "w2", "name": "二号窗口"},
               {"window_id": "w3", "name": "三号窗口"}]
    recs = [{"window_id": "w1", "issued": 6, "used": 6, "returned": 0, "void": 0, "missing": [], "balanced": True},
            {"window_id": "w2", "issued": 6, "used": 5, "returned": 0, "void": 0, "missing": ["X1"],
             "balanced": False}]
    rows = domain.day_report(recs, windows)
    assert [(r.window, r.alarm, r.done) for r in rows] == [("二号窗口", True, True), ("三号窗口", False, False),
                                                          ("一号窗口", False, True)]
    assert rows[0].missing == ("X1",)


def box(*signed: tuple[str, str], final: bool = False) -> dict:
    return {"month": "2026-11", "final": final, "flagged": [{"serial": "1", "window_id": "w1", "level": "satisfied",
                                                             "counted": False, "flag": "never_issued"}],
            "sign_offs": [{"body": b, "account": a, "at": "2026-12-01T02:00:00Z", "chain_head": "h"} for b, a in signed]}


def test_the_box_shows_who_signed_whats_missing_and_who_may_sign():
    view = domain.box_view(box(("service_center", "ov-1")), Role.OVERSIGHT, "ov-2", "assessment_office")
    assert view.can_sign and "市委考核办" in view.sign_note
    assert view.missing == ["市委考核办", "市纪委监委作风办"] and view.flagged[0]["reason"] == "从未发放的卡"
    assert [b.account for b in view.bodies] == [None, None, "ov-1"]
    same_body = domain.box_view(box(("service_center", "ov-1")), Role.OVERSIGHT, "ov-3", "service_center")
    assert not same_body.can_sign and "已由 ov-1 签字" in same_body.sign_note
    same_account = domain.box_view(box(("service_center", "ov-1")), Role.OVERSIGHT, "ov-1", "assessment_office")
    assert not same_account.can_sign and "您已签字" in same_account.sign_note
    no_body = domain.box_view(box(), Role.OVERSIGHT, "ov-4", None)
    assert not no_body.can_sign and "没有标明所属监督单位" in no_body.sign_note
    assert not domain.box_view(box(), Role.SUPERVISOR, "sv", None).can_sign
    final = domain.box_view(box(("a", "1"), final=True), Role.OVERSIGHT, "ov-9", "assessment_office")
    assert final.final and not final.can_sign and "终审" in final.sign_note


def test_the_confirmation_after_counting_says_what_was_flagged():
    assert domain.box_done("counted", 4, 1) == "已录入 4 张：计入 3 张，可疑 1 张（未计入，见下方可疑卡片）。"
    assert domain.box_done("counted", 2, 0) == "已录入 2 张：计入 2 张。"
    assert domain.box_done("nonsense", 1, 1) == ""


def test_days_and_months_are_the_halls():
    late = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)  # 1 December 01:00 Beijing
    assert domain.today(late) == "2026-12-01" and domain.this_month(late) == "2026-12"
    assert domain.previous_month("2026-01") == "2025-12" and domain.previous_month("2026-12") == "2026-11"
    assert domain.day_or_today("2026-11-02", late) == "2026-11-02" and domain.day_or_today("x", late) == "2026-12-01"


# -- forms -------------------------------------------------------------------------------------------------
def test_the_forms_refuse_bad_input_by_field():
    form, errors = parse(CallbackForm, {"outcome": "已回访", "reasonable": "false"})
    assert form is not None and form.reasonable is False and not errors
    assert parse(CallbackForm, {"outcome": "   ", "reasonable": "true"})[1] == {"outcome": "必填"}
    assert parse(CallbackForm, {"outcome": "a\u202eb", "reasonable": "maybe"})[1].keys() == {"outcome", "reasonable"}
    assert set(parse(IssueForm, {"day": "2026-13-01", "window_id": "w1", "staff_id": "s1", "first": "1",
                                 "last": "2"})[1]) == {"day"}
    assert set(parse(VotesForm, {"window_id": "w1", "slot": "middle", "serials": "1"})[1]) == {"slot"}
