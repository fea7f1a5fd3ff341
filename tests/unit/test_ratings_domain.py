"""Ratings' pure rules: one rating per case, the hash-chained log, the ledger's time limits, the
ranking and the list's display window."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from ratings.domain import (
    AlreadyRated,
    DisplayTooShort,
    EntryStatus,
    LedgerEntry,
    Level,
    Publication,
    RankingRules,
    RateableCase,
    Tally,
    TokenRefused,
    extend,
    rank,
    verify,
)

NOW = datetime(2026, 11, 2, 2, tzinfo=UTC)


def _case() -> RateableCase:
    return RateableCase.open(case_number="C1", source="registration", applicant_id="u1", matter="establishment",
                             completed_at=NOW, window_id="w1", staff_id="s1", department=None, correlation_id="",
                             token_id="t1", token_expires_at=NOW + timedelta(days=30), rating_url="x")


def test_one_rating_per_case_unless_annulled():
    case = _case()
    case.check_token("t1", NOW)
    case.rate(level=Level.DISSATISFIED, channel="web", indicators={"overall": 2}, comment=None, by="t", now=NOW)
    with pytest.raises(AlreadyRated):
        case.rate(level=Level.SATISFIED, channel="window_device", indicators={}, comment=None, by="s", now=NOW)
    with pytest.raises(TokenRefused):
        case.check_token("t1", NOW)
    case.annul(reason="误评", reviewer_id="sv", now=NOW, token_id="t2", token_expires_at=NOW + timedelta(days=1),
               rating_url="y", entry_id=None)
    with pytest.raises(TokenRefused):
        case.check_token("t1", NOW)  # the old link stays dead
    case.check_token("t2", NOW)
    case.rate(level=Level.SATISFIED, channel="web", indicators={}, comment=None, by="t", now=NOW)
    assert case.rating and case.rating.level is Level.SATISFIED and len(case.annulled) == 1
    assert [type(e).__name__ for e in case.pull_events()] == [
        "RatingInvited", "RatingRecorded", "RatingAnnulled", "RatingInvited", "RatingRecorded"]


def test_expired_token_refused():
    with pytest.raises(TokenRefused, match="expired"):
        _case().check_token("t1", NOW + timedelta(days=30))


def test_bad_levels():
    assert {lv for lv in Level if lv.bad} == {Level.DISSATISFIED, Level.VERY_DISSATISFIED}


def _chain(n: int):
    return extend((0, "0" * 64), [("card.issued", f"s{i}", {"i": i}) for i in range(n)], NOW)


def test_the_chain_verifies_and_names_an_edited_record():
    records = _chain(5)
    assert verify(records, expected_head=(5, records[-1].hash)).ok
    edited = list(records)
    edited[2] = dataclasses.replace(records[2], data={"i": 99})
    v = verify(edited)
    assert not v.ok and v.broken_seq == 3 and v.broken_subject == "s2" and "changed" in (v.reason or "")


def test_the_chain_names_a_deleted_record_and_a_cut_tail():
    records = _chain(5)
    v = verify(records[:1] + records[2:])
    assert not v.ok and v.broken_seq == 2 and "missing" in (v.reason or "")
    v = verify(records[:4], expected_head=(5, records[-1].hash))
    assert not v.ok and "head" in (v.reason or "")


def test_a_rehashed_edit_breaks_the_next_link():
    records = _chain(4)
    forged = dataclasses.replace(records[1], data={"i": 7})
    forged = dataclasses.replace(forged, hash=forged.recomputed())
    v = verify([records[0], forged, *records[2:]])
    assert not v.ok and v.broken_seq == 3 and "link" in (v.reason or "")


def _entry() -> LedgerEntry:
    return LedgerEntry.open(entry_id="E1", kind="bad_rating", case_number="C1", applicant_id="u1", department="tax",
                            window_id="w1", owner_id="o1", now=NOW, callback_due_at=NOW + timedelta(days=1),
                            month="2026-11")


def test_ledger_reasonable_request_is_rectified_with_feedback_in_time():
    e = _entry()
    due = NOW + timedelta(days=3)
    assert e.callback(by="o1", supervisor=False, outcome="属实", reasonable=True, now=NOW, feedback_due_at=due)
    assert e.status is EntryStatus.RECTIFYING and e.warn() and not e.warn()
    assert e.give_feedback(by="o1", supervisor=False, feedback="已整改", now=due - timedelta(seconds=1))
    assert e.within_time_limit and e.replied and not e.mark_overdue()


def test_ledger_overdue_then_late_feedback_and_explanations():
    e = _entry()
    e.callback(by="o1", supervisor=False, outcome="属实", reasonable=True, now=NOW, feedback_due_at=NOW)
    assert e.mark_overdue()
    e.give_feedback(by="o1", supervisor=True, feedback="已整改", now=NOW + timedelta(days=1))
    assert e.within_time_limit is False
    other = _entry()
    other.callback(by="o1", supervisor=False, outcome="诉求无法律依据", reasonable=False, now=NOW, feedback_due_at=NOW)
    assert other.explain(by="o1", supervisor=False, explanation="依据规定无法办理", now=NOW)
    assert other.status is EntryStatus.ANSWERED


def _tally(**levels: int) -> Tally:
    t = Tally()
    for k, v in levels.items():
        t.add(k, v)
    return t


def test_ranking_follows_the_rules():
    units = {("window", "a"): _tally(satisfied=20), ("window", "b"): _tally(satisfied=15, dissatisfied=5),
             ("window", "c"): _tally(satisfied=3), ("staff", "s"): _tally(very_satisfied=30, dissatisfied=1)}
    red, black = rank(units, {("window", "a"): "一号窗口"}, RankingRules(min_ratings=10, red_size=2, black_size=2,
                                                                    red_min_rate=0.95, black_min_bad=1))
    assert [(r.id, r.name) for r in red] == [("a", "一号窗口"), ("s", "s")]
    assert [r.id for r in black] == ["b"]  # c has too few ratings to be ranked


def test_a_list_is_shown_fifteen_days_at_least():
    kw = {"month": "2026-11", "final": True, "display_from": NOW, "red": [], "black": [], "by": "sv", "now": NOW,
          "chain_head": "h"}
    with pytest.raises(DisplayTooShort) as short:
        Publication.make(display_days=14, **kw)
    assert short.value.errors and short.value.errors[0]["field"] == "display_days"
    pub = Publication.make(display_days=15, **kw)
    assert pub.on_display(NOW + timedelta(days=14, hours=23)) and not pub.on_display(NOW + timedelta(days=15))


def test_a_record_read_back_from_the_database_hashes_the_same():
    """The database keeps milliseconds and may hand back naive UTC: the hash does not change."""
    [rec] = extend((0, "0" * 64), [("card.issued", "s", {"i": 1})], NOW.replace(microsecond=123456))
    back = dataclasses.replace(rec, at=rec.at.replace(tzinfo=None))
    assert rec.at.microsecond == 123000 and verify([back]).ok
