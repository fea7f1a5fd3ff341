"""One outbox row per transaction: a transaction's events in emit order, split into several
rows only past a row's bounds (events, bytes), each row named by its first event."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from servicekit.mongo import OUTBOX_EVENTS_PER_ROW, outbox_event, outbox_rows
from servicekit.outbox import count_events, events_of
from tests.support.events import submitted

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def test_a_transactions_events_are_one_row_in_emit_order() -> None:
    events = [submitted(f"C-{i % 3}") for i in range(12)]
    (row,) = outbox_rows([outbox_event(e, f"tp-{i}") for i, e in enumerate(events)], NOW)
    assert (row["_id"], row["created_at"], row["idx"], row["n"]) == (events[0].event_id, NOW, 0, 12)
    assert [e["_id"] for e in events_of(row)] == [e.event_id for e in events]
    assert [e["traceparent"] for e in events_of(row)] == [f"tp-{i}" for i in range(12)]
    assert {e["key"] for e in events_of(row)} == {"C-0", "C-1", "C-2"}


def test_a_row_of_the_earlier_shape_is_one_event() -> None:
    flat = outbox_event(submitted("C-1"), None) | {"created_at": NOW, "idx": 3}
    assert events_of(flat) == [flat] and count_events([flat]) == 1


def test_the_default_bound_keeps_a_row_far_below_the_document_limit() -> None:
    events = [submitted("C-1") for _ in range(OUTBOX_EVENTS_PER_ROW + 1)]
    rows = outbox_rows([outbox_event(e, None) for e in events], NOW)
    assert [r["n"] for r in rows] == [OUTBOX_EVENTS_PER_ROW, 1]
    assert len(str(rows[0])) < 16 * 2**20 // 4


@given(sizes=st.lists(st.integers(min_value=1, max_value=5000), min_size=1, max_size=40),
       max_events=st.integers(min_value=1, max_value=10), max_bytes=st.integers(min_value=1, max_value=20_000))
def test_split_rows_keep_every_event_once_in_order_within_their_bounds(sizes: list[int], max_events: int,
                                                                        max_bytes: int) -> None:
    entries = [{"_id": f"e-{i}", "topic": "t", "key": "k", "body": b"x" * n, "headers": {}, "traceparent": None}
               for i, n in enumerate(sizes)]
    rows = outbox_rows(entries, NOW, max_events=max_events, max_bytes=max_bytes)
    assert [e["_id"] for r in rows for e in events_of(r)] == [e["_id"] for e in entries]
    assert [r["idx"] for r in rows] == list(range(len(rows)))
    assert [r["_id"] for r in rows] == [r["events"][0]["_id"] for r in rows]
    for r in rows:
        assert 1 <= r["n"] == len(r["events"]) <= max_events
        if r["n"] > 1:  # only an event bigger than the bound on its own may pass it
            assert sum(len(e["body"]) for e in r["events"]) <= max_bytes
