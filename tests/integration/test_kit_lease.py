"""The relay's lease: one holder at a time, renewed only in the second half of its term."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from servicekit.mongo import LEASES, Lease, make_client


async def test_one_holder_renews_late_and_another_takes_over_after_expiry(infra, unique):
    client = make_client(infra.mongodb_uri)
    db = client[f"lease_{unique}"]
    t0 = datetime(2026, 11, 26, tzinfo=UTC)
    ttl = timedelta(seconds=10)
    a, b = Lease(db, "relay", "a", ttl), Lease(db, "relay", "b", ttl)
    try:
        assert await a.acquire(t0) is True
        assert await b.acquire(t0 + timedelta(seconds=1)) is False
        until = (await db[LEASES].find_one({"_id": "relay"}))["until"]
        assert await a.acquire(t0 + timedelta(seconds=4)) is True  # first half: no write
        assert (await db[LEASES].find_one({"_id": "relay"}))["until"] == until
        assert await a.acquire(t0 + timedelta(seconds=6)) is True  # second half: renewed
        assert (await db[LEASES].find_one({"_id": "relay"}))["until"] == t0 + timedelta(seconds=16)
        assert await b.acquire(t0 + timedelta(seconds=15)) is False
        assert await b.acquire(t0 + timedelta(seconds=17)) is True  # a stopped renewing: b takes over
        assert await a.acquire(t0 + timedelta(seconds=18)) is False
    finally:
        await client.close()
