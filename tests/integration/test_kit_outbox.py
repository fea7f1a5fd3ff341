"""The outbox as a retained log, against the real broker and database: one row per
transaction holding its events in order (split past the row's bounds; rows of the earlier
one-event shape still read), rows kept and never updated, the relay's watermark (commit order, no skips), a crash between publishing and
recording, catching up, retention behind the watermark, republishing; each case's sequenced
events numbered (``case_seq``); the outbox and the processed-event markers bounded after
1,000 cases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from contracts import Event, topic_for
from contracts.events.registration import ApplicationSubmittedV1, DeadlineRedatedV1
from notifications.bootstrap import create_app as notifications_app
from notifications.config import Settings as NotificationSettings
from servicekit.config import ServiceSettings, load
from servicekit.messaging import OutboxRelay, make_broker
from servicekit.mongo import (
    OUTBOX,
    PROCESSED,
    RELAY,
    SEQUENCES,
    ensure_kit_indexes,
    make_client,
    outbox_event,
    outbox_row,
    outbox_rows,
)
from servicekit.outbox import RelayRecord, find_events, republish
from servicekit.telemetry import attached, cause_traces
from servicekit.topics import ensure_topics
from servicekit.uow import MongoUnitOfWork
from tests.support.apps import running
from tests.support.events import make, submitted
from tests.support.kafka import read_all
from tests.support.waiting import eventually

TOPIC = topic_for(ApplicationSubmittedV1).name


@dataclass
class NoRepos:
    @classmethod
    def bind(cls, db: Any, session: Any) -> NoRepos:
        return cls()


@dataclass
class Outbox:
    """A producer's database, its unit of work and a started broker."""

    settings: ServiceSettings
    client: Any
    db: Any
    uow: MongoUnitOfWork[NoRepos]
    broker: Any

    async def commit(self, *events: Event) -> None:
        """One transaction that emits ``events``."""

        async def work(tx: Any) -> None:
            tx.emit(events)

        await self.uow.run(work)

    async def insert(self, event: Event, created_at: datetime) -> None:
        """A row as the unit of work writes it, with a chosen creation time."""
        await self.db[OUTBOX].insert_one(outbox_row(event, 0, created_at, None))

    async def wire_ids(self, case: str) -> list[str]:
        """The ce_id of every record of ``case`` on the topic, in log order."""
        records = await read_all(self.settings.kafka_bootstrap_servers, TOPIC)
        return [dict(r.headers)["ce_id"].decode() for r in records if r.key == case.encode()]


@pytest.fixture
async def outbox(infra_env, unique) -> AsyncIterator[Outbox]:
    settings = load(ServiceSettings, service_name="producer", mongodb_database=f"obx_{unique}")
    await ensure_topics(settings.kafka_bootstrap_servers)
    client = make_client(settings.mongodb_uri)
    db = client[settings.database_name]
    await ensure_kit_indexes(db)
    broker = make_broker(settings)
    await broker.start()
    try:
        yield Outbox(settings, client, db, MongoUnitOfWork(NoRepos.bind, client=client, db=db), broker)
    finally:
        await broker.stop()
        await client.close()


def ids(*events: Event) -> list[str]:
    return [e.event_id for e in events]


async def rows(db: Any) -> dict[str, dict[str, Any]]:
    return {d["_id"]: d async for d in db[OUTBOX].find()}


async def test_published_rows_are_kept_unchanged_and_one_write_records_the_pass(outbox, unique) -> None:
    case = f"RT{unique}"
    a, b, c = submitted(case), submitted(case), submitted(case)
    await outbox.commit(a, b)
    await outbox.commit(c)
    before = await rows(outbox.db)
    relay = OutboxRelay(outbox.db, outbox.broker)
    assert await relay.run_once() == 3
    assert await rows(outbox.db) == before  # kept, and not one of them written again
    mark = await RelayRecord(outbox.db).load()
    assert mark is not None and mark.published == 3 and mark.position is not None
    assert mark.position.id == c.event_id and mark.token is not None
    assert await outbox.db[RELAY].count_documents({}) == 1
    assert await relay.run_once() == 0
    assert await outbox.wire_ids(case) == ids(a, b, c)
    await relay.close()


async def test_a_transaction_that_commits_after_a_later_one_is_not_skipped(outbox, unique) -> None:
    """Rows are created when their transaction writes them but become visible when it
    commits: a watermark of creation times would pass over the early one."""
    case = f"OO{unique}"
    early, late = submitted(case), submitted(case)
    relay = OutboxRelay(outbox.db, outbox.broker)
    assert await relay.run_once() == 0
    async with outbox.client.start_session() as session:
        await session.start_transaction()
        await outbox.db[OUTBOX].insert_one(outbox_row(early, 0, datetime.now(UTC), None), session=session)
        await outbox.commit(late)  # created after `early`, committed before it
        assert await relay.run_once() == 1
        assert relay.position is not None and relay.position.id == late.event_id
        await session.commit_transaction()
    assert await relay.run_once() == 1
    assert await outbox.wire_ids(case) == ids(late, early)  # commit order
    await relay.close()


def trace_of(traceparent: str | bytes | None) -> str | None:
    text = traceparent.decode() if isinstance(traceparent, bytes) else traceparent
    return text.split("-")[1] if text else None


async def test_a_transaction_writes_one_row_holding_its_events_and_the_relay_publishes_them_in_order(
        outbox, unique) -> None:
    """k events of one transaction: ONE row (``n`` = k, in emit order), one relay pass
    publishes the k events in that order, each continuing its own cause's trace."""
    case = f"ON{unique}"
    causes = {f"cause-{i}": f"00-{i + 1:032x}-{i + 1:016x}-01" for i in range(2)}
    first, second, third = (submitted(case, causation_id=c) for c in ("cause-0", "cause-1", "none"))
    fourth = submitted(f"{case}-other")  # another case in the same transaction: its own partition, same row

    async def work(tx: Any) -> None:
        tx.emit([first, second, third, fourth])

    default = "00-" + "f" * 32 + "-" + "e" * 16 + "-01"
    with cause_traces(causes), attached(default):
        await outbox.uow.run(work)
    stored = await outbox.db[OUTBOX].find().to_list()
    assert len(stored) == 1 and stored[0]["n"] == 4 and stored[0]["_id"] == first.event_id
    assert [e["_id"] for e in stored[0]["events"]] == ids(first, second, third, fourth)
    assert [trace_of(e["traceparent"]) for e in stored[0]["events"]] == [
        f"{1:032x}", f"{2:032x}", "f" * 32, "f" * 32]
    relay = OutboxRelay(outbox.db, outbox.broker)
    assert await relay.pending() == 4
    assert await relay.run_once() == 4
    assert await relay.pending() == 0
    mark = await RelayRecord(outbox.db).load()
    assert mark is not None and mark.published == 4 and mark.position is not None
    assert mark.position.id == first.event_id  # the row's position
    records = [r for r in await read_all(outbox.settings.kafka_bootstrap_servers, TOPIC) if r.key == case.encode()]
    assert [dict(r.headers)["ce_id"].decode() for r in records] == ids(first, second, third)
    assert [trace_of(dict(r.headers).get("traceparent")) for r in records] == [f"{1:032x}", f"{2:032x}", "f" * 32]
    await relay.close()


async def test_rows_past_their_bounds_and_rows_of_the_earlier_shape_are_published_in_log_order(
        outbox, unique) -> None:
    """A transaction bigger than a row's bounds is several rows (``idx`` 0, 1, ...); a row
    written before rows held events (one event at its top level) is still one event."""
    case = f"SP{unique}"
    events = [submitted(case) for _ in range(5)]
    now = datetime.now(UTC)
    split = outbox_rows([outbox_event(e, None) for e in events], now, max_events=2)
    assert [r["n"] for r in split] == [2, 2, 1] and [r["idx"] for r in split] == [0, 1, 2]
    by_size = outbox_rows([outbox_event(e, None) for e in events], now, max_bytes=1)
    assert [r["n"] for r in by_size] == [1] * 5  # each event alone past the byte bound
    legacy = submitted(case)
    flat = outbox_event(legacy, None) | {"created_at": now - timedelta(seconds=1), "idx": 0, "status": "pending"}
    relay = OutboxRelay(outbox.db, outbox.broker)
    assert await relay.run_once() == 0
    async with outbox.client.start_session() as session:

        async def write(s: Any) -> None:
            await outbox.db[OUTBOX].insert_one(flat, session=s)
            await outbox.db[OUTBOX].insert_many(split, session=s)

        await session.with_transaction(write)
    assert await relay.pending() == 6
    assert await relay.run_once() == 6
    assert await outbox.wire_ids(case) == ids(legacy, *events)
    assert [e["_id"] for e in await find_events(outbox.db, key=case)] == ids(legacy, *events)
    await relay.close()


async def test_a_relay_restarted_after_a_crash_between_publish_and_record_repeats_only_that_pass(
        outbox, unique) -> None:
    case = f"CR{unique}"
    a, b, c, d = (submitted(case) for _ in range(4))
    relay = OutboxRelay(outbox.db, outbox.broker)
    await outbox.commit(a, b)
    assert await relay.run_once() == 2
    await outbox.commit(c, d)

    async def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("killed between publishing and recording")

    relay.record.save = crash  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="killed"):
        await relay.run_once()
    restarted = OutboxRelay(outbox.db, outbox.broker)  # a new process: only the record survives
    assert await restarted.run_once() == 2
    assert await restarted.run_once() == 0
    assert await outbox.wire_ids(case) == ids(a, b, c, d, c, d)  # the last pass again, same ce_id
    assert (await RelayRecord(outbox.db).load()).published == 4  # type: ignore[union-attr]
    await restarted.close()


async def test_a_relay_recording_at_most_every_so_often_repeats_at_most_that_after_a_crash_and_records_at_stop(
        outbox, unique) -> None:
    case = f"RS{unique}"
    a, b, c, d = (submitted(case) for _ in range(4))
    relay = OutboxRelay(outbox.db, outbox.broker, record_seconds=3600)
    await outbox.commit(a)
    assert await relay.run_once() == 1  # the first pass records
    await outbox.commit(b)
    assert await relay.run_once() == 1  # published, not recorded yet
    mark = await RelayRecord(outbox.db).load()
    assert mark is not None and mark.published == 1 and mark.position is not None and mark.position.id == a.event_id
    crashed = OutboxRelay(outbox.db, outbox.broker, record_seconds=3600)  # relay's process killed: a new one
    assert await crashed.run_once() == 1  # b again, from the record
    await outbox.commit(c, d)
    assert await crashed.run_once() == 2
    assert await crashed.drain() == 0  # stopping: nothing new, what was published is recorded
    mark = await RelayRecord(outbox.db).load()
    assert mark is not None and mark.published == 4 and mark.position is not None and mark.position.id == c.event_id
    assert await outbox.wire_ids(case) == ids(a, b, b, c, d)
    await relay.close()
    await crashed.close()


async def test_a_watermark_the_stream_cannot_resume_from_makes_the_relay_catch_up_from_the_log(
        outbox, unique) -> None:
    case = f"CU{unique}"
    t0 = datetime.now(UTC) - timedelta(minutes=10)
    old, recent = submitted(case), submitted(case)
    await outbox.insert(old, t0)
    await outbox.insert(recent, t0 + timedelta(minutes=5))
    relay = OutboxRelay(outbox.db, outbox.broker)
    assert await relay.run_once() == 2
    await relay.close()
    # The database no longer has the recorded point (its oplog was pruned, or restored elsewhere).
    await outbox.db[RELAY].update_one({"_id": "outbox"}, {"$set": {"token": {"_data": "00"}}})
    unpublished = submitted(case)
    await outbox.insert(unpublished, t0 + timedelta(minutes=6))
    restarted = OutboxRelay(outbox.db, outbox.broker, catchup_grace=timedelta(minutes=1))
    assert await restarted.run_once() == 2  # from the recorded position minus the grace: `recent` again, the new one
    after = submitted(case)
    await outbox.commit(after)
    assert await restarted.run_once() == 1  # then the stream again
    assert await outbox.wire_ids(case) == ids(old, recent, recent, unpublished, after)
    await restarted.close()


async def test_retention_deletes_only_old_rows_behind_the_watermark(outbox, unique) -> None:
    case = f"RE{unique}"
    now = datetime.now(UTC)
    r0, r1, r2, r3 = (submitted(case) for _ in range(4))
    relay = OutboxRelay(outbox.db, outbox.broker, retention=timedelta(days=7))
    await outbox.insert(r0, now - timedelta(days=11))
    await outbox.insert(r1, now - timedelta(days=10))
    assert await relay.run_once() == 2
    await outbox.insert(r2, now - timedelta(days=9))  # committed, not published yet
    assert await relay.cleanup_pass() == 1
    assert set(await rows(outbox.db)) == set(ids(r1, r2))  # r1 is the watermark, r2 beyond it
    assert await relay.run_once() == 1
    assert await relay.cleanup_pass() == 1
    assert set(await rows(outbox.db)) == set(ids(r2))
    await outbox.commit(r3)
    assert await relay.run_once() == 1
    assert await relay.cleanup_pass() == 1  # r2 is past retention and behind the watermark
    assert await relay.cleanup_pass() == 0  # r3 is within retention
    assert set(await rows(outbox.db)) == set(ids(r3))
    await relay.close()


async def _processed(kit: Any, event_id: str) -> bool:
    return await kit.db["processed_events"].count_documents({"event_id": event_id}) == 1


async def test_republish_since_sends_exactly_those_rows_again_in_order_and_the_consumer_acts_once(
        outbox, infra_env, unique) -> None:
    case = f"RP{unique}"
    ntf_settings = load(NotificationSettings, mongodb_database=f"ntf_{unique}")
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    events = [submitted(case) for _ in range(5)]
    for i, e in enumerate(events):
        await outbox.insert(e, t0 + timedelta(seconds=i))
    relay = OutboxRelay(outbox.db, outbox.broker)
    assert await relay.run_once() == 5
    async with running(notifications_app(ntf_settings)) as ntf:
        await eventually(lambda: _processed(ntf.kit, events[-1].event_id))
        since = t0 + timedelta(seconds=2)
        assert (await republish(outbox.db, outbox.broker, since=since, topic="registration.case-completed.v1")
                ).published == 0
        window = await republish(outbox.db, outbox.broker, since=since, until=t0 + timedelta(seconds=4))
        assert (window.published, window.more) == (2, False)
        done = await republish(outbox.db, outbox.broker, since=since, limit=2)
        assert (done.published, done.more, done.next_since) == (2, True, t0 + timedelta(seconds=4))
        rest = await republish(outbox.db, outbox.broker, since=done.next_since)
        assert rest.published == 1 and rest.last is not None and rest.last.id == events[4].event_id
        assert await outbox.wire_ids(case) == ids(*events, *events[2:4], *events[2:])
        marker = submitted(case)  # published after the copies, same partition: handled after them
        await outbox.commit(marker)
        assert await relay.run_once() == 1
        await eventually(lambda: _processed(ntf.kit, marker.event_id))
        for e in events:
            assert await ntf.kit.db["messages"].count_documents({"source_event_id": e.event_id}) == 1
    assert len(await rows(outbox.db)) == 6  # republishing writes nothing
    await relay.close()


async def test_republish_of_rows_holding_several_events_keeps_their_order_and_stops_inside_a_row(
        outbox, unique) -> None:
    case = f"RM{unique}"
    events = [submitted(case) for _ in range(5)]
    await outbox.commit(*events[:3])  # one row of 3
    await outbox.commit(*events[3:])  # one row of 2
    (row, *_) = await outbox.db[OUTBOX].find().sort([("created_at", 1)]).to_list()
    since = row["created_at"]
    other = "registration.case-completed.v1"
    assert (await republish(outbox.db, outbox.broker, since=since, topic=other)).published == 0
    part = await republish(outbox.db, outbox.broker, since=since, limit=2)
    assert (part.published, part.more, part.next_since) == (2, True, since)  # stopped inside the first row
    assert part.first is not None and part.last is not None
    assert (part.first.id, part.last.id) == (events[0].event_id, events[1].event_id)
    rest = await republish(outbox.db, outbox.broker, since=part.next_since, topic=TOPIC)
    assert (rest.published, rest.more) == (5, False)  # from the row's start again: at least once
    assert rest.last is not None and rest.last.id == events[4].event_id
    assert await outbox.wire_ids(case) == ids(*events[:2], *events)


async def test_devstack_republish_pages_through_a_range_straight_from_the_database(outbox, unique) -> None:
    """``python -m devstack republish --service S --since T`` (its function; the service need not run)."""
    from devstack.republish import run

    case = f"DV{unique}"
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    events = [submitted(case) for _ in range(5)]
    for i, e in enumerate(events):
        await outbox.insert(e, t0 + timedelta(seconds=i))
    lines: list[str] = []
    total = await run("registration", since=t0 + timedelta(seconds=1), until=None, topic=TOPIC, page=2,
                      database=outbox.settings.database_name, mongodb_uri=outbox.settings.mongodb_uri,
                      bootstrap=outbox.settings.kafka_bootstrap_servers, say=lines.append)
    assert total == 4 and len(lines) == 2  # pages of 2 rows, the second going on where the first stopped
    assert await outbox.wire_ids(case) == ids(*events[1:])
    with pytest.raises(ValueError, match="no service"):
        await run("nope", since=t0, until=None, topic=None, mongodb_uri="", bootstrap="")


async def test_a_database_of_the_earlier_outbox_is_taken_over_without_losing_or_repeating_a_row(
        infra_env, unique) -> None:
    """Rows marked sent by the earlier relay stay sent; a pending one is published; its
    per-row indexes go."""
    from pymongo import ASCENDING, IndexModel

    settings = load(ServiceSettings, service_name="producer", mongodb_database=f"old_{unique}")
    client = make_client(settings.mongodb_uri)
    db = client[settings.database_name]
    await db[OUTBOX].create_indexes([
        IndexModel([("status", ASCENDING), ("created_at", ASCENDING), ("idx", ASCENDING)]),
        IndexModel([("sent_at", ASCENDING)], expireAfterSeconds=7 * 24 * 3600)])
    case, now = f"OL{unique}", datetime.now(UTC)
    sent, pending = submitted(case), submitted(case)
    await db[OUTBOX].insert_many([{**outbox_row(sent, 0, now, None), "status": "sent", "sent_at": now},
                                  {**outbox_row(pending, 1, now, None), "status": "pending"}])
    await ensure_kit_indexes(db)
    assert {ix["name"] async for ix in await db[OUTBOX].list_indexes()} == {"_id_", "created_at_idx"}
    broker = make_broker(settings)
    await broker.start()
    try:
        relay = OutboxRelay(db, broker)
        assert await relay.run_once() == 1
        await relay.close()
    finally:
        await broker.stop()
    records = await read_all(settings.kafka_bootstrap_servers, TOPIC)
    assert [dict(r.headers)["ce_id"].decode() for r in records if r.key == case.encode()] == ids(pending)
    await client.close()


# -- case sequences and bounded collections ---------------------------------------------------
async def seqs(db: Any, case: str) -> list[int | None]:
    return [int(r["headers"]["ce_caseseq"]) if "ce_caseseq" in r["headers"] else None
            for r in await find_events(db, key=case)]


async def test_each_cases_sequenced_events_are_numbered_in_emit_order_across_transactions(outbox, unique) -> None:
    a, b = f"SQA{unique}", f"SQB{unique}"
    first = submitted(a)
    redated = make(DeadlineRedatedV1, a, previous_due_at=first.time, due_at=first.time)  # not read by notifications
    assert not topic_for(DeadlineRedatedV1).sequenced
    await outbox.commit(first, submitted(b), redated, submitted(a))
    await outbox.commit(submitted(a))
    assert await seqs(outbox.db, a) == [1, None, 2, 3]
    assert await seqs(outbox.db, b) == [1]
    assert await outbox.db[SEQUENCES].find_one({"_id": a}) == {"_id": a, "seq": 3}


async def test_the_outbox_and_the_markers_stay_bounded_after_1000_cases(outbox, unique) -> None:
    uow = MongoUnitOfWork(NoRepos.bind, client=outbox.client, db=outbox.db, marker_retention=timedelta(seconds=1))
    relay = OutboxRelay(outbox.db, outbox.broker, retention=timedelta(0), batch=500)

    async def one_case(n: int) -> None:
        incoming = submitted(f"BD{unique}-{n}")

        async def work(tx: Any, fresh: list[Event]) -> None:
            tx.emit([submitted(f"BD{unique}-{n}") for _ in fresh])

        await uow.consume("bounded-test", [incoming], work)

    for n in range(1000):
        await one_case(n)
        if n % 250 == 249:  # the relay publishes and retention deletes as it goes
            while await relay.run_once():
                pass
            while await relay.cleanup_pass():
                pass
    while await relay.run_once():
        pass
    while await relay.cleanup_pass():
        pass
    assert await outbox.db[OUTBOX].count_documents({}) <= 1  # only the watermark's own row is kept
    markers = {"consumer": "bounded-test"}
    assert await outbox.db[PROCESSED].count_documents({**markers, "expires_at": {"$exists": False}}) == 0
    # SecantusDB's TTL sweep runs every 60 s, as MongoDB's does
    await eventually(lambda: _none_left(outbox.db, markers), timeout=90, interval=1, what="markers expired")
    await relay.close()


async def _none_left(db: Any, query: dict[str, Any]) -> bool:
    return await db[PROCESSED].count_documents(query) == 0
