"""Running tallies: counters kept up to date in the state change's own transaction, so that a
report reads a handful of small documents instead of counting the records behind them.

A tally is named by a few string fields (``{"period": "2026-11", "kind": "change", "measure":
"completed"}``) and holds ``n``. Each write is one ``$inc`` upsert per distinct tally, all in
one bulk write, on one of ``shards`` documents of the tally (picked at random per write):
concurrent transactions counting the same thing then rarely write the same document (a write
conflict and a retry). Reading sums the shards. Ratings' figures are the first user of the
pattern (its own copy, decision 41); registration's statistics use this one.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pymongo import ASCENDING, IndexModel, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection

DEFAULT_SHARDS = 8


def increments(rows: Iterable[tuple[Mapping[str, str], int]], *, shard: int = 0) -> list[UpdateOne]:
    """One ``$inc`` upsert per distinct tally of ``rows`` (``(fields, n)``), on shard ``shard``."""
    counts: dict[str, tuple[dict[str, str], int]] = {}
    for fields, n in rows:
        key = "|".join(f"{k}={fields[k]}" for k in sorted(fields)) + f"|#{shard}"
        doc, total = counts.get(key, (dict(fields), 0))
        counts[key] = (doc, total + n)
    return [UpdateOne({"_id": key}, {"$setOnInsert": doc, "$inc": {"n": n}}, upsert=True)
            for key, (doc, n) in counts.items() if n]


class Tallies:
    """The tallies in ``collection``, written and read inside ``session`` (a unit of work's)."""

    def __init__(self, collection: AsyncCollection[Any], session: AsyncClientSession | None = None, *,
                 shards: int = DEFAULT_SHARDS) -> None:
        self.collection, self.session, self.shards = collection, session, shards

    @staticmethod
    async def ensure_indexes(collection: AsyncCollection[Any], fields: Sequence[str]) -> None:
        """An index on the fields reports select by (e.g. ``["period"]``)."""
        await collection.create_indexes([IndexModel([(f, ASCENDING) for f in fields],
                                                     name="tally_" + "_".join(fields))])

    async def add(self, rows: Iterable[tuple[Mapping[str, str], int]]) -> None:
        """Count ``rows`` (``(fields, n)``, n may be negative): one bulk write, nothing if empty."""
        ops = increments(rows, shard=secrets.randbelow(self.shards))
        if ops:
            await self.collection.bulk_write(ops, ordered=False, session=self.session)

    async def sums(self, match: Mapping[str, Any], by: Sequence[str]) -> dict[tuple[str, ...], int]:
        """The tallies matching ``match`` (on indexed fields), summed over shards by the ``by`` fields."""
        out: dict[tuple[str, ...], int] = {}
        async for doc in self.collection.find(match, {f: 1 for f in [*by, "n"]}, session=self.session):
            key = tuple(str(doc.get(f)) for f in by)
            out[key] = out.get(key, 0) + int(doc.get("n", 0))
        return out


__all__ = ["DEFAULT_SHARDS", "Tallies", "increments"]
