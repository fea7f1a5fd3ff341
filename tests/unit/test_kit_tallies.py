"""The kit's running tallies: one ``$inc`` upsert per distinct tally of a write, on one shard."""

from __future__ import annotations

from servicekit.tallies import increments


def test_one_upsert_per_distinct_tally_with_the_sum_and_zero_sums_dropped() -> None:
    a, b = {"period": "2026-11", "measure": "submitted"}, {"measure": "completed", "period": "2026-11"}
    ops = increments([(a, 1), (b, 1), (dict(reversed(list(a.items()))), 2), (b, -1)], shard=3)
    assert len(ops) == 1  # b's +1 and -1 cancel: nothing written for it
    [op] = ops
    assert op._filter == {"_id": "measure=submitted|period=2026-11|#3"}
    assert op._doc == {"$setOnInsert": a, "$inc": {"n": 3}} and op._upsert


def test_shards_are_separate_documents_of_the_same_tally() -> None:
    row = ({"period": "2026-11-27"}, 1)
    ids = {increments([row], shard=s)[0]._filter["_id"] for s in range(8)}
    assert len(ids) == 8
