"""Faults while 30 registration cases are in flight: every case completes exactly once and
every applicant SMS is sent exactly once, whatever crashes, stalls or arrives broken.

One platform for the whole tier (`make run SIMULATE=1` from a temporary var dir, free ports);
each scenario runs a fresh batch of cases, submitted by a background thread through the HTTP
API (retrying, with the same Idempotency-Key, while the platform is down or answers 503). The
fault is injected once at least 10 of the 30 are accepted. A crash makes honcho stop the whole
platform, as on a laptop; `devstack up` then starts it again on the same data.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from aiokafka import AIOKafkaProducer

from contracts.topics import TOPICS, dead_letter_topic
from tests.faults.harness import Platform
from tests.faults.workload import N_CASES, ROWS, Batch, check, completions
from tests.support.kafka import read_all
from tests.support.waiting import wait_for

pytestmark = pytest.mark.timeout(420)
MID_FLOW = 10  # accepted cases before the fault
SUBSCRIBED = [t for t in TOPICS if t.consumers]


class Feeder:
    """Opens the batch's cases one after another in a thread (bounded: each case ~4 min at most)."""

    def __init__(self, batch: Batch, n: int = N_CASES) -> None:
        self.batch, self.n, self.error = batch, n, None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for i in range(self.n):
                self.batch.open_case(i, attempts=400)
        except BaseException as exc:  # reported by join()
            self.error = exc

    def wait_accepted(self, n: int = MID_FLOW) -> None:
        wait_for(lambda: len(self.batch.cases) >= n or self.error, timeout=90, what=f"{n} cases accepted")

    def join(self, timeout: float = 240) -> None:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the feeder is still opening cases"
        if self.error:
            raise self.error


@pytest.fixture(scope="session")
def baseline(platform: Platform) -> Iterator[tuple[Batch, int]]:
    """The batch without a fault; the applicant SMS per case it got is what every later batch must get."""
    b = Batch(platform, "none")
    Feeder(b).join()
    wait_for(lambda: b.completed() == N_CASES, timeout=120, interval=1, what="the baseline completed")
    sms = wait_for(lambda: (s := b.sms()) and len({len(v) for v in s.values()}) == 1
                   and min(len(v) for v in s.values()) >= 5 and s, timeout=60, interval=1, what="baseline SMS")
    per_case = len(next(iter(sms.values())))
    yield b, per_case


def test_none(baseline: tuple[Batch, int]) -> None:
    b, per_case = baseline
    check(b, "none", 1, per_case)


CRASHES = [("registration", 2), ("notifications", 3), ("broker", 4), ("db", 5), ("departments", 6)]


@pytest.mark.parametrize(("name", "order"), CRASHES, ids=[c[0] for c in CRASHES])
def test_sigkill_then_make_run(platform: Platform, baseline: tuple[Batch, int], name: str, order: int) -> None:
    _, per_case = baseline
    b = Batch(platform, f"kill-{name}")
    feeder = Feeder(b)
    feeder.wait_accepted()
    accepted = len(b.cases)
    platform.signal(name, signal.SIGKILL)
    down, up = platform.restart_after_crash()
    feeder.join()
    check(b, f"SIGKILL {name}, then `make run`", order, per_case,
          f"killed at {accepted} accepted; platform down in {down:.0f}s, up again in {up:.0f}s")


STALLS = [("broker", 7), ("db", 8)]


@pytest.mark.parametrize(("name", "order"), STALLS, ids=[s[0] for s in STALLS])
def test_sigstop_20s(platform: Platform, baseline: tuple[Batch, int], name: str, order: int) -> None:
    _, per_case = baseline
    b = Batch(platform, f"stop-{name}")
    feeder = Feeder(b)
    feeder.wait_accepted()
    probe = Batch(platform, f"probe-{name}", cases=list(b.cases[:3]))
    pid = platform.signal(name, signal.SIGSTOP)
    paused = time.monotonic()
    try:
        while time.monotonic() - paused < 20:  # HTTP calls during the pause, each bounded by its timeout
            probe.statuses()
            time.sleep(0.5)
    finally:
        os.kill(pid, signal.SIGCONT)
    resumed = time.monotonic()
    feeder.join()
    during = [c for c in probe.calls + b.calls if paused <= c.started < resumed]
    slowest = max(c.seconds for c in during)
    answers = sorted({str(c.status) for c in during})
    check(b, f"SIGSTOP {name} 20 s", order, per_case,
          f"{len(during)} HTTP calls during the pause: answers {', '.join(answers)}, slowest {slowest:.1f}s")
    # no call waits out the 20 s pause (each answers within its 2 s database time, plus the load)
    assert slowest <= 10, f"an HTTP call during the {name} pause took {slowest:.1f}s"
    # 409 with Retry-After: a retry under the Idempotency-Key of a try that got 503 and could not
    # release the key while the database stalled (servicekit.idempotency), or a conflict with a
    # transaction the stall left open on the database until it expires
    assert set(answers) <= {"200", "201", "409", "503"}, answers


# -- poison ------------------------------------------------------------------------------------
def _headers(ce_type: str, **extra: bytes) -> list[tuple[str, bytes]]:
    h = {"ce_type": ce_type.encode(), "content-type": b"application/json", "ce_id": str(uuid.uuid4()).encode(),
         "ce_source": b"/faults/poison", "ce_specversion": b"1.0", "ce_time": b"2026-01-01T00:00:00Z",
         "ce_subject": b"POISON", **extra}
    return list(h.items())


def poisons(ce_type: str) -> dict[str, tuple[bytes, list[tuple[str, bytes]]]]:
    return {
        "invalid JSON": (b'{"case_number": "P', _headers(ce_type)),
        "empty value": (b"", _headers(ce_type)),
        "JSON nested 200,000 deep": (b"[" * 200_000 + b"]" * 200_000, _headers(ce_type)),
        "non-UTF-8 header": (b"{}", _headers(ce_type, ce_subject=b"\xff\xfe\xfa")),
        "1 MB value": (b'{"pad": "' + b"x" * 1_000_000 + b'"}', _headers(ce_type)),
        "missing headers": (b'{"case_number": "POISON"}', []),
        "unknown ce_type": (b"{}", _headers("cn.gov.onewindow.nobody.thing.v1")),
    }


async def _produce_poison(bootstrap: str) -> list[tuple[str, str, int, int]]:
    """Every kind on every subscribed topic; returns (kind, topic, partition, offset)."""
    sent = []
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", max_request_size=2_000_000)
    await producer.start()
    try:
        for spec in SUBSCRIBED:
            for kind, (value, headers) in poisons(spec.event.ce_type).items():
                md = await producer.send_and_wait(spec.name, value, key=f"POISON-{uuid.uuid4().hex[:6]}".encode(),
                                                  headers=headers)
                sent.append((kind, spec.name, md.partition, md.offset))
    finally:
        await producer.stop()
    return sent


def test_poison_of_every_kind_on_every_subscribed_topic(platform: Platform, baseline: tuple[Batch, int]) -> None:
    _, per_case = baseline
    b = Batch(platform, "poison")
    feeder = Feeder(b)
    feeder.wait_accepted()
    sent = asyncio.run(_produce_poison(platform.bootstrap))
    feeder.join()
    expected = {(spec_topic, p, o): kind for kind, spec_topic, p, o in sent}
    consumers = {t.name: t.consumers for t in SUBSCRIBED}

    def dead_letters() -> dict[str, list[tuple[str, int, int]]]:
        out = {}
        for service in sorted({c for cs in consumers.values() for c in cs}):
            recs = asyncio.run(read_all(platform.bootstrap, dead_letter_topic(service), timeout=10))
            hs = [dict(r.headers) for r in recs]
            out[service] = [(h.get("dlq_source_topic", b"").decode(), int(h.get("dlq_source_partition", b"-1")),
                             int(h.get("dlq_source_offset", b"-1"))) for h in hs]
        return out

    def all_there():
        dl = dead_letters()
        return all(any(k == (t, p, o) for k in dl[c]) for (t, p, o) in expected for c in consumers[t]) and dl

    notes = f"{len(sent)} poison messages ({len(poisons('x'))} kinds × {len(SUBSCRIBED)} topics)"
    try:
        dl = wait_for(all_there, timeout=90, interval=2, what="every poison message dead-lettered")
    except AssertionError:
        dl = dead_letters()
    missing = [(expected[(t, p, o)], t, c) for (t, p, o) in expected for c in consumers[t] if (t, p, o) not in dl[c]]
    twice = [(expected[(t, p, o)], t, c) for (t, p, o) in expected for c in consumers[t] if dl[c].count((t, p, o)) > 1]
    notes += f"; not dead-lettered: {len(missing)}, twice: {len(twice)}"
    check(b, "poison of every kind on every subscribed topic", 9, per_case, notes)
    assert not missing, f"poison not dead-lettered: {missing[:20]}"
    assert not twice, f"poison dead-lettered twice: {twice[:20]}"


# -- duplicates and stale events ----------------------------------------------------------------
async def _replay(bootstrap: str, cases: set[str]) -> tuple[int, int]:
    """Every event about ``cases`` on every subscribed topic again (same ce_id), and each
    StepDecidedV1 once more under a new ce_id (an answer to an attempt already decided)."""
    dup = stale = 0
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for spec in SUBSCRIBED:
            for r in await read_all(bootstrap, spec.name, timeout=10):
                if r.key is None or r.key.decode() not in cases:
                    continue
                headers = list(r.headers)
                await producer.send_and_wait(spec.name, r.value, key=r.key, headers=headers)
                dup += 1
                if spec.name.startswith("departments."):
                    fresh = [(k, str(uuid.uuid4()).encode() if k == "ce_id" else v) for k, v in headers]
                    await producer.send_and_wait(spec.name, r.value, key=r.key, headers=fresh)
                    stale += 1
    finally:
        await producer.stop()
    return dup, stale


def test_duplicate_and_stale_events_on_every_subscribed_topic(platform: Platform,
                                                              baseline: tuple[Batch, int]) -> None:
    old, per_case = baseline
    replayed = set(old.cases[:5])
    before_sms = {c: v for c, v in old.sms().items() if c in replayed}
    b = Batch(platform, "dup")
    feeder = Feeder(b)
    feeder.wait_accepted()
    dup, stale = asyncio.run(_replay(platform.bootstrap, replayed))
    # the batch in flight replayed too: its events so far, again
    dup2, stale2 = asyncio.run(_replay(platform.bootstrap, set(b.cases[:5])))
    feeder.join()
    note = (f"{dup + dup2} events re-published with their ce_id, {stale + stale2} step answers again under a new "
            f"ce_id, about 5 completed cases and 5 in flight")
    try:
        check(b, "duplicate and stale events on every subscribed topic", 10, per_case, note)
    finally:
        done = completions(platform)
        after_sms = {c: v for c, v in old.sms().items() if c in replayed}
        again = [c for c in replayed if done[c] != 1 or after_sms[c] != before_sms[c]]
        if again:
            for r in ROWS:
                if r.order == 10:
                    r.doubled += len(again)
                    r.notes += f"; completed cases with a second effect: {len(again)}"
    assert not again, f"a replay had a second effect on completed cases: {again}"
