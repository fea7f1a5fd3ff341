"""The dead-letter summary of ``GET /ops/status`` (no I/O): counted by source topic and reason,
the most frequent first, the newest 20 newest first, the time from ``dlq_at``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiokafka.structs import ConsumerRecord

from servicekit.opsstatus import RECENT, letter_of, summarise

T0 = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)


def record(i: int, source: str, reason: str, key: bytes | None = b"K") -> ConsumerRecord:  # type: ignore[type-arg]
    headers = [("dlq_reason", reason.encode()), ("dlq_source_topic", source.encode()),
               ("dlq_at", (T0 + timedelta(seconds=i)).isoformat().encode()), ("ce_id", b"x")]
    return ConsumerRecord("ntf.dead-letter", 0, i, 0, 0, key, b"{}", None, 0, 0, headers)


def test_dead_letters_are_counted_by_source_and_reason_most_frequent_first() -> None:
    records = [record(i, "a.v1", "InvalidEvent: not JSON") for i in range(3)]
    records += [record(10 + i, "b.v1", "KeyError: 'x'") for i in range(30)]
    records += [record(5, "a.v1", "KeyError: 'x'", key=None)]
    summary = summarise("ntf.dead-letter", [letter_of(r) for r in records])
    assert summary.total == 34
    assert [(r.source_topic, r.reason, r.count) for r in summary.by_reason] == [
        ("b.v1", "KeyError: 'x'", 30), ("a.v1", "InvalidEvent: not JSON", 3), ("a.v1", "KeyError: 'x'", 1)]
    assert summary.by_reason[0].last_at == T0 + timedelta(seconds=39)
    assert len(summary.recent) == RECENT == 20
    assert [x.at for x in summary.recent] == sorted((x.at for x in summary.recent), reverse=True)
    assert summary.recent[0].at == T0 + timedelta(seconds=39) and summary.recent[-1].at == T0 + timedelta(seconds=20)


def test_a_record_without_the_headers_is_unknown_at_its_broker_time() -> None:
    bare = ConsumerRecord("t", 0, 0, int(T0.timestamp() * 1000), 0, None, b"", None, 0, 0, [])
    letter = letter_of(bare)
    assert (letter.source_topic, letter.reason, letter.at, letter.key) == ("unknown", "unknown", T0, None)
