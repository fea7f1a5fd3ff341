"""Database writes, counted by the database itself.

SecantusDB keeps a replica-set oplog (``local.oplog.rs``) with one entry per document
written (``op`` i/u/d; a transaction's entries share its commit ``ts`` and carry
``lsid``/``txnNumber``), and reports ``serverStatus.opcounters`` (write *statements*:
an ``insert_many`` counts once). From the oplog, per database and window of wall time:
documents written by collection and operation, and commit points (distinct ``ts``:
each one is a durable commit, an fsync with ``--sync-on-commit``)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from typing import Any

from pymongo import AsyncMongoClient

WRITE_OPS = {"i": "insert", "u": "update", "d": "delete"}


async def opcounters(client: AsyncMongoClient) -> dict[str, int]:
    status = await client.admin.command("serverStatus")
    return {k: int(v) for k, v in (status.get("opcounters") or {}).items()}


def delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: after.get(k, 0) - before.get(k, 0) for k in after}


@dataclass
class Writes:
    documents: int = 0
    commits: int = 0
    by_collection: Counter[str] = field(default_factory=Counter)  # "cases.update" -> n

    def as_dict(self, per: int | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"documents": self.documents, "commit_points": self.commits,
                               "by_collection_op": dict(sorted(self.by_collection.items()))}
        if per:
            out["documents_per_case"] = round(self.documents / per, 2)
            out["commit_points_per_case"] = round(self.commits / per, 2)
            out["by_collection_op_per_case"] = {k: round(v / per, 2) for k, v in sorted(self.by_collection.items())}
        return out


async def oplog_entries(client: AsyncMongoClient, since: datetime) -> list[dict[str, Any]]:
    """Oplog entries written since ``since`` (one full read; the oplog has no index on wall)."""
    cursor = client.local["oplog.rs"].find({"wall": {"$gte": since}}, {"op": 1, "ns": 1, "ts": 1, "wall": 1})
    return await cursor.to_list()


def writes_in(entries: list[dict[str, Any]], database: str, start: datetime, end: datetime) -> Writes:
    w, commits = Writes(), set()
    prefix = database + "."
    for e in entries:
        op = WRITE_OPS.get(e.get("op", ""))
        if op is None or not e.get("ns", "").startswith(prefix) or not (start <= _naive(e["wall"]) <= end):
            continue
        w.documents += 1
        w.by_collection[f"{e['ns'][len(prefix):]}.{op}"] += 1
        commits.add(e["ts"])
    w.commits = len(commits)
    return w


def _naive(d: datetime) -> datetime:
    return d.replace(tzinfo=None) if d.tzinfo else d


def commit_gaps(entries: list[dict[str, Any]], namespace: str, start: datetime, end: datetime) -> list[float]:
    """Seconds between consecutive commits that wrote to ``namespace`` (e.g. a consumer's
    processed-event markers): under a backlog, a sequential consumer's time per event."""
    walls = sorted({_naive(e["wall"]) for e in entries
                    if e.get("ns") == namespace and e.get("op") == "i" and start <= _naive(e["wall"]) <= end})
    return [(b - a).total_seconds() for a, b in pairwise(walls)]


def commit_sizes(entries: list[dict[str, Any]], namespace: str, start: datetime, end: datetime) -> list[int]:
    """Documents inserted into ``namespace`` by each commit (distinct ``ts``) in the window."""
    sizes: Counter[Any] = Counter(e["ts"] for e in entries
                                  if e.get("ns") == namespace and e.get("op") == "i" and start <= _naive(e["wall"]) <= end)
    return list(sizes.values())
