"""Paper card serials (ISO 7064 Mod 11,2 through python-stdnum), the daily reconciliation, the box
opening's flags and sign-offs, and the monthly tally: properties over generated cards."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ratings.domain import (
    BoxOpening,
    Card,
    CardStatus,
    Flag,
    InvalidSerial,
    Level,
    SignOffRefused,
    Slot,
    Tally,
    check_serial,
    classify,
    make_serial,
    reconcile,
    serial_range,
)
from ratings.domain.cards import MAX_BODY, level_for

ALPHABET = "0123456789X"
bodies = st.integers(min_value=0, max_value=MAX_BODY)
NOW = datetime(2026, 11, 30, 8, tzinfo=UTC)


def _valid(s: str) -> bool:
    try:
        check_serial(s)
    except InvalidSerial:
        return False
    return True


@given(bodies)
def test_a_made_serial_checks(body):
    s = make_serial(body)
    assert len(s) == 11 and check_serial(s) == s and int(s[:-1]) == body


@given(bodies)
def test_every_single_character_error_is_caught(body):
    s = make_serial(body)
    for i in range(len(s)):
        for ch in ALPHABET:
            if ch != s[i]:
                wrong = s[:i] + ch + s[i + 1:]
                assert not _valid(wrong), f"{wrong} (from {s}) passed"


@given(bodies)
def test_every_adjacent_swap_is_caught(body):
    s = make_serial(body)
    for i in range(len(s) - 1):
        if s[i] != s[i + 1]:
            swapped = s[:i] + s[i + 1] + s[i] + s[i + 2:]
            assert not _valid(swapped), f"{swapped} (from {s}) passed"


def test_malformed_serials_say_why():
    with pytest.raises(InvalidSerial, match="check character"):
        check_serial("2611000123" + ("0" if make_serial(2611000123)[-1] != "0" else "1"))
    with pytest.raises(InvalidSerial, match=r"10 digits"):
        check_serial("26110001")
    assert check_serial(make_serial(7).lower()) == make_serial(7)


def test_a_range_is_consecutive():
    first = make_serial(2611000001)
    rng = serial_range(first, 5)
    assert [int(s[:-1]) for s in rng] == list(range(2611000001, 2611000006)) and all(map(_valid, rng))


@given(st.lists(st.sampled_from(["used", "returned", "void", "missing"]), min_size=1, max_size=60))
def test_reconciliation_balances_only_when_every_card_is_accounted_for(fates):
    cards = [Card(make_serial(i), "w1", "s1", "2026-11-02") for i in range(len(fates))]
    for card, fate in zip(cards, fates, strict=True):
        if fate == "used":
            card.drop(Slot.GOOD)
        elif fate == "returned":
            card.give_back()
        elif fate == "void":
            card.void()
    rec = reconcile("2026-11-02", "w1", cards)
    n = Counter(fates)
    assert (rec.issued, rec.used, rec.returned, rec.void) == (len(fates), n["used"], n["returned"], n["void"])
    assert rec.balanced == (n["missing"] == 0)
    assert len(rec.missing) == n["missing"]


def test_the_box_flags_what_it_must_not_count():
    card = Card(make_serial(1), "w1", "s1", "2026-11-02", CardStatus.USED, Slot.GOOD)
    old = Card(make_serial(2), "w1", "s1", "2026-10-30")
    kw = {"month": "2026-11", "window_id": "w1", "level": Level.SATISFIED}
    assert classify(make_serial(1), card=card, counted_before=False, **kw).counted
    assert classify(make_serial(9), card=None, counted_before=False, **kw).flag is Flag.NEVER_ISSUED
    assert classify(make_serial(1), card=card, counted_before=True, **kw).flag is Flag.ALREADY_COUNTED
    assert classify(make_serial(2), card=old, counted_before=False, **kw).flag is Flag.OTHER_PERIOD
    assert classify(make_serial(1), card=card, counted_before=False,
                    **{**kw, "window_id": "w2"}).flag is Flag.OTHER_WINDOW
    assert level_for(Slot.BAD, None) is Level.DISSATISFIED


@given(st.lists(st.tuples(st.integers(0, 40), st.booleans(), st.sampled_from(list(Level))), max_size=120),
       st.lists(st.sampled_from(list(Level)), max_size=50))
def test_monthly_tally_online_plus_paper_is_total_and_no_card_counts_twice(entries, online_levels):
    """Entered votes (serials 0-40, repeats likely, some never issued) and online ratings: the
    tally adds up and no serial is counted twice."""
    issued = {make_serial(i): Card(make_serial(i), "w1", "s1", "2026-11-03") for i in range(0, 41, 2)}
    counted: set[str] = set()
    paper = Tally()
    for body, _good, level in entries:
        s = make_serial(body)
        vote = classify(s, month="2026-11", window_id="w1", card=issued.get(s), counted_before=s in counted,
                        level=level)
        if vote.counted:
            counted.add(s)
            paper.add(level.value)
    online = Tally()
    for level in online_levels:
        online.add(level.value)
    total = online.merge(paper)
    assert total.total == online.total + paper.total
    assert paper.total == len(counted) <= len(issued)
    assert all(total.counts[lv.value] == online.counts[lv.value] + paper.counts[lv.value] for lv in Level)


def test_three_distinct_oversight_bodies_sign_and_nothing_changes_after():
    box = BoxOpening("2026-11", "sv", NOW)
    assert not box.sign(body="assessment_office", account="a1", is_oversight=True, now=NOW, chain_head="h")
    with pytest.raises(SignOffRefused) as same_account:
        box.sign(body="discipline_inspection", account="a1", is_oversight=True, now=NOW, chain_head="h")
    assert same_account.value.errors[0]["field"] == "account"
    with pytest.raises(SignOffRefused) as not_oversight:
        box.sign(body="service_center", account="x", is_oversight=False, now=NOW, chain_head="h")
    assert not_oversight.value.errors[0]["field"] == "body"
    with pytest.raises(SignOffRefused):
        box.sign(body="assessment_office", account="a9", is_oversight=True, now=NOW, chain_head="h")
    assert not box.sign(body="discipline_inspection", account="a2", is_oversight=True, now=NOW, chain_head="h")
    assert box.sign(body="service_center", account="a3", is_oversight=True, now=NOW, chain_head="h")
    with pytest.raises(Exception, match="final"):
        box.sign(body="service_center", account="a4", is_oversight=True, now=NOW, chain_head="h")
