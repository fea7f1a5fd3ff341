"""The kit's group commit: concurrent submissions share a batch; each caller gets its own result
or its own error; a failing batch fails its callers only."""

from __future__ import annotations

import asyncio

import pytest

from servicekit.batching import Batcher


async def test_concurrent_calls_share_batches_and_get_their_own_results():
    seen: list[list[int]] = []

    async def run(items: list[int]) -> list[int | BaseException]:
        seen.append(items)
        await asyncio.sleep(0.01)
        return [ValueError(f"odd {i}") if i % 2 else i * 10 for i in items]

    batcher: Batcher[int, int] = Batcher(run, max_size=4)
    results = await asyncio.gather(*[batcher.submit(i) for i in range(10)], return_exceptions=True)
    assert [r if not isinstance(r, BaseException) else str(r) for r in results] == [
        0, "odd 1", 20, "odd 3", 40, "odd 5", 60, "odd 7", 80, "odd 9"]
    assert sorted(i for b in seen for i in b) == list(range(10)) and all(len(b) <= 4 for b in seen)
    assert batcher.batches == len(seen) < 10  # shared


async def test_a_lone_call_runs_at_once_and_a_failed_batch_fails_only_its_callers():
    calls = 0

    async def run(items: list[str]) -> list[str | BaseException]:
        nonlocal calls
        calls += 1
        if "boom" in items:
            raise RuntimeError("database down")
        return [s.upper() for s in items]

    batcher: Batcher[str, str] = Batcher(run)
    assert await batcher.submit("a") == "A"
    with pytest.raises(RuntimeError, match="database down"):
        await batcher.submit("boom")
    assert await batcher.submit("b") == "B" and calls == 3


async def test_batches_do_not_run_in_the_first_callers_context():
    import contextvars

    deadline: contextvars.ContextVar[str] = contextvars.ContextVar("deadline", default="none")

    async def run(items: list[int]) -> list[str]:
        return [deadline.get() for _ in items]

    batcher: Batcher[int, str] = Batcher(run)
    deadline.set("first request's")
    assert await batcher.submit(1) == "none"
