"""The notifications pipeline (issue 4): applicant messages sent per second, and webhook
deliveries per second.

Registration events for N synthetic, completed cases (7 applicant-facing events each:
submitted, accepted, licence issued, 3 steps approved, completed) are produced straight
onto the registration topics by a raw batched producer, keyed by case and with the
CloudEvents headers the registration relay writes: the registration pipeline could not
offer 200 notices/s (about 7 per case at ≤ 10 cases/s).

The service runs as its own process with its providers pointed at the local stand-ins
(``devstack.gateways``: HTTP SMS gateway, SMTP) and one partner-agency subscription to
the four public event types, delivering signed webhooks to ``devstack.webhook_receiver``
(which verifies each signature). Quiet hours are off, so every message goes at once.

- messages/s: SMS received by the gateway (its own ``received_at``), over the window from
  the first event produced to the last message received; latency per message: event
  produced → received at the gateway, matched by the message id (derived from the event
  id, recipient and channel, as the service does).
- webhook deliveries/s: webhooks the receiver accepted, counted by polling it every
  0.25 s (so their latency is not reported, only the rate)."""

from __future__ import annotations

import asyncio
import base64
import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from bench.processes import Proc, service, url_of
from bench.procstat import Sampler
from bench.stats import summary_ms
from contracts.envelope import Event
from contracts.events import registration as reg
from contracts.topics import topic_for
from devstack.issuer import LocalIssuer
from servicekit.auth import Role
from servicekit.config import ServiceSettings, load

SOURCE = "/one-window/bench"
PHONE = "13912345678"
PUBLIC_TYPES = [reg.ApplicationSubmittedV1.ce_type, reg.ApplicationAcceptedV1.ce_type,
                reg.LicenceIssuedV1.ce_type, reg.CaseCompletedV1.ce_type]
MESSAGES_PER_CASE = 7  # every event of case_events() is an applicant notice, by SMS (the default channel)
MEASURED_PER_CASE = MESSAGES_PER_CASE - 1  # the first (ApplicationSubmittedV1) primes the service, unmeasured
STALL_TIMEOUT_S = 30.0
NTF_DB = "bench_notifications"


def availability() -> str | None:
    """None when the notifications pass can run; otherwise why not."""
    import importlib.util

    try:  # not `notifications.main`: importing it builds the app (and its logging) in this process
        import devstack.gateways
        import devstack.webhook_receiver  # noqa: F401
        from notifications.domain.messages import message_id_for  # noqa: F401

        if importlib.util.find_spec("notifications.main") is None:
            return "the notifications service has no notifications.main"
    except Exception as exc:
        return f"the notifications service or its stand-ins do not import: {type(exc).__name__}: {exc}"
    return None


def case_events(case_number: str, applicant: str, now: datetime) -> list[Event]:
    """The applicant-facing events of one synthetic, completed case (each one a notice)."""
    common = dict(source=SOURCE, subject=case_number, case_number=case_number, correlation_id=case_number)
    name = f"兰州通知基准{case_number[-6:]}科技有限公司"
    uscc = "91620102MA" + case_number[-8:]
    events: list[Event] = [
        reg.ApplicationSubmittedV1(**common, application_id=case_number, company_name=name, applicant_id=applicant,
                                   applicant_phone=PHONE, channel="web"),
        reg.ApplicationAcceptedV1(**common, applicant_id=applicant, company_name=name, kind="establishment",
                                  channel="web", accepted_at=now, due_at=now + timedelta(days=1), staff_id="w-bench"),
        reg.LicenceIssuedV1(**common, company_name=name, unified_social_credit_code=uscc, applicant_id=applicant,
                            kind="establishment", issued_at=now),
        *[reg.StepApprovedV1(**common, step=s, department=d)
          for s, d in (("seal", "public_security"), ("tax", "tax"),
                       ("social_security", "human_resources_social_security"))],
        reg.CaseCompletedV1(**common, applicant_id=applicant, company_name=name, kind="establishment",
                            unified_social_credit_code=uscc, accepted_at=now, completed_at=now,
                            within_time_limit=True, results={}),
    ]
    # numbered as registration's unit of work numbers them (case_seq): the service keeps each case's order
    return [e.model_copy(update={"case_seq": n}) for n, e in enumerate(events, 1)]


@dataclass
class Fed:
    sent_at: dict[str, float] = field(default_factory=dict)  # message id -> wall clock of the produce
    events: int = 0
    webhooks_expected: int = 0
    first: float = 0.0
    last: float = 0.0


def synthetic_cases(tag: str, cases: int) -> list[tuple[str, list[Event]]]:
    now = datetime.now(UTC)
    out = []
    for i in range(cases):
        number, who = f"QYBENCH{tag}{i:05d}{uuid.uuid4().hex[:4].upper()}", f"bench-{tag}-a{i}"
        out.append((who, case_events(number, who, now)))
    return out


async def feed(bootstrap: str, items: list[tuple[str, Event]], events_per_s: float | None) -> Fed:
    """Produce ``(recipient, event)`` items in order, at ``events_per_s`` or as fast as the
    producer goes (None): keyed by case, CloudEvents headers, as the registration relay does."""
    from notifications.domain.messages import message_id_for

    fed = Fed()
    wire = [(who, e, *e.to_wire()) for who, e in items]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2)
    await producer.start()
    try:
        loop = asyncio.get_running_loop()
        t0, futures = loop.time(), []
        fed.first = time.time()
        for i, (who, event, body, headers) in enumerate(wire):
            if events_per_s:
                delay = t0 + i / events_per_s - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            fed.sent_at[message_id_for(event.event_id, who, "sms")] = time.time()
            futures.append(await producer.send(topic_for(event).name, body, key=event.case_number.encode(),
                                               headers=[(k, v.encode()) for k, v in headers.items()]))
        await asyncio.gather(*futures)
        fed.last = time.time()
    finally:
        await producer.stop()
    fed.events = len(wire)
    fed.webhooks_expected = sum(1 for _, e, _, _ in wire if e.ce_type in PUBLIC_TYPES)
    return fed


async def skip_to_end(bootstrap: str, group: str) -> int:
    """Commit ``group``'s offsets at the end of every topic it consumes, so the service
    starts after what is already there (read to the end rather than asking for the end
    offsets, which Tansu under-reports after batched produces). Returns records skipped."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from contracts.topics import TOPICS

    topics = [t.name for t in TOPICS if group in t.consumers]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                                fetch_max_wait_ms=100, auto_offset_reset="earliest")
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        tps = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        skipped, quiet = 0, time.monotonic()
        while time.monotonic() - quiet < 1.0:
            batch = await consumer.getmany(timeout_ms=200, max_records=5000)
            if batch:
                skipped += sum(len(v) for v in batch.values())
                quiet = time.monotonic()
        await consumer.commit({tp: await consumer.position(tp) for tp in tps})
        return skipped
    finally:
        await consumer.stop()


class Stack:
    """The notifications service, the provider stand-ins and an agency's webhook receiver."""

    def __init__(self, env: dict[str, str], tmp: Path, issuer: LocalIssuer, profile_dir: Path | None = None) -> None:
        from devstack.gateways import GatewayProcess
        from devstack.webhook_receiver import ReceiverProcess

        self.secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
        self.gateways = GatewayProcess(log_path=tmp / "logs" / "gateways.log")
        self.receiver = ReceiverProcess(secret=self.secret, log_path=tmp / "logs" / "webhook-receiver.log")
        env = {**env, "NOTIFICATIONS_MONGODB_DATABASE": NTF_DB, "NOTIFICATIONS_DEFAULT_QUIET_HOURS": "off",
               **self.gateways.settings_env(),
               # the agency's receiver is local: allowed by the development allow-list only
               "NOTIFICATIONS_WEBHOOK_ALLOW_HTTP": "true",
               "NOTIFICATIONS_OUTBOUND_ALLOW": f'["127.0.0.1:{self.receiver.port}"]'}
        self.service: Proc = service("notifications", env, tmp / "logs", profile_dir)
        self.agency = {"Authorization": "Bearer " + issuer.token(
            sub="bench-agency", role=Role.PARTNER_AGENCY.value, agency_id="bench-agency",
            audience=load(ServiceSettings).jwt_audience, ttl=timedelta(hours=12))}

    def start(self) -> None:
        self.gateways.start()
        self.receiver.start()
        self.service.start()
        r = httpx.post(f"{url_of(self.service)}/subscriptions", headers=self.agency, timeout=10,
                       json={"event_types": PUBLIC_TYPES, "webhook_url": self.receiver.url, "secret": self.secret})
        if r.status_code != 201:
            raise RuntimeError(f"POST /subscriptions {r.status_code}: {r.text[:300]}")

    @property
    def pids(self) -> dict[str, int]:
        assert self.gateways.proc is not None and self.receiver.proc is not None
        return {"notifications": self.service.pid, "gateways": self.gateways.proc.pid,
                "webhook-receiver": self.receiver.proc.pid}

    def stop(self) -> None:
        self.service.stop()
        self.receiver.stop()
        self.gateways.stop()


async def _counts(stack: Stack, http: httpx.AsyncClient, prefix: str) -> tuple[list[dict[str, Any]], int]:
    sms = (await http.get(f"{stack.gateways.url}/received")).json()
    mine = [m for m in sms if str(m.get("case_number", "")).startswith(prefix)]
    hooks = (await http.get(stack.receiver.url.removesuffix("/webhook") + "/received")).json()["events"]
    return mine, sum(1 for h in hooks if str(h["event"].get("subject", "")).startswith(prefix))


async def _wait(stack: Stack, http: httpx.AsyncClient, prefix: str, sms_expected: int, hooks_expected: int,
                hook_times: list[tuple[float, int]] | None = None) -> tuple[list[dict[str, Any]], int]:
    """Poll the stand-ins until they have what is expected, or nothing moved for STALL_TIMEOUT_S."""
    progress_at, last = time.monotonic(), (-1, -1)
    while True:
        sms, hooks = await _counts(stack, http, prefix)
        if hook_times is not None:
            hook_times.append((time.time(), hooks))
        if (len(sms), hooks) != last:
            progress_at, last = time.monotonic(), (len(sms), hooks)
        if (len(sms) >= sms_expected and hooks >= hooks_expected) or time.monotonic() - progress_at > STALL_TIMEOUT_S:
            return sms, hooks
        await asyncio.sleep(0.25)


async def run_pass(stack: Stack, bootstrap: str, pids: dict[str, int], *, tag: str, cases: int,
                   events_per_s: float | None, opcounters: Any = None) -> dict[str, Any]:
    """First, unmeasured, every case's ApplicationSubmittedV1 (it tells the service the applicant
    and the phone), waiting until each one's SMS arrived: the service reads its topics in no
    fixed order, and a later event of a case it does not know yet is dead-lettered. Then,
    measured, the other 6 events of every case."""
    prefix = f"QYBENCH{tag}"
    synthetic = synthetic_cases(tag, cases)
    async with httpx.AsyncClient(timeout=30) as http:
        primed = await feed(bootstrap, [(who, evs[0]) for who, evs in synthetic], events_per_s)
        before, _ = await _wait(stack, http, prefix, cases, primed.webhooks_expected)
        if len(before) < cases:
            raise RuntimeError(f"notifications: only {len(before)}/{cases} first messages arrived:\n"
                               f"{stack.service.tail(10)}")
        seen = {m["reference"] for m in before}
        ops0 = await opcounters() if opcounters else {}
        sampler = Sampler(pids).start()
        t0 = time.monotonic()
        start_wall = datetime.now(UTC).replace(tzinfo=None)
        # every case's 2nd event, then every case's 3rd, ...: one case's events spread over the feed
        items = [(who, evs[k]) for k in range(1, MESSAGES_PER_CASE) for who, evs in synthetic]
        fed = await feed(bootstrap, items, events_per_s)
        expected = len(fed.sent_at)
        hook_times: list[tuple[float, int]] = []
        sms_all, hooks_all = await _wait(stack, http, prefix, cases + expected,
                                         primed.webhooks_expected + fed.webhooks_expected, hook_times)
    usage = await sampler.stop()
    wall = time.monotonic() - t0
    end_wall = datetime.now(UTC).replace(tzinfo=None)
    ops1 = await opcounters() if opcounters else {}
    sms = [m for m in sms_all if m.get("reference") not in seen]
    hooks0 = primed.webhooks_expected
    hook_times = [(t, n - hooks0) for t, n in hook_times]
    last = (len(sms), hooks_all - hooks0)

    received = sorted(datetime.fromisoformat(m["received_at"]).timestamp() for m in sms)
    latency = [datetime.fromisoformat(m["received_at"]).timestamp() - fed.sent_at[m["reference"]]
               for m in sms if m.get("reference") in fed.sent_at]
    out: dict[str, Any] = {
        "cases": cases, "events_produced": fed.events, "feed_rate_target": events_per_s,
        "feed_seconds": round(fed.last - fed.first, 3),
        "feed_rate_achieved": round(fed.events / (fed.last - fed.first), 1) if fed.last > fed.first else None,
        "messages_expected": expected, "messages_received": len(sms),
        "webhooks_expected": fed.webhooks_expected, "webhooks_received": last[1],
        "dead_lettered_or_missing": expected - len(sms),
        "latency_event_to_sms": summary_ms(latency),
        "wall_s": round(wall, 3), "start_wall": start_wall, "end_wall": end_wall,
        "usage": usage, "other_cpu_s": sampler.other_cpu_s, "opcounters": {k: ops1.get(k, 0) - ops0.get(k, 0) for k in ops1},
    }
    if received:
        span = received[-1] - fed.first
        out["messages_per_s"] = round(len(received) / span, 1) if span > 0 else None
        lo, hi = int(len(received) * 0.1), int(len(received) * 0.9) - 1
        if hi > lo and received[hi] > received[lo]:
            out["messages_per_s_steady"] = round((hi - lo) / (received[hi] - received[lo]), 1)
    first_hook = next((t for t, n in hook_times if n > 0), None)
    if first_hook and last[1] > 0:
        done_at = next(t for t, n in hook_times if n >= last[1])
        out["webhooks_per_s"] = round(last[1] / max(done_at - fed.first, 1e-3), 1)
        # steady: between the polls that saw 10 % and 90 % of them
        n10 = next((t, n) for t, n in hook_times if n >= 0.1 * last[1])
        n90 = next((t, n) for t, n in hook_times if n >= 0.9 * last[1])
        if n90[0] > n10[0]:
            out["webhooks_per_s_steady"] = round((n90[1] - n10[1]) / (n90[0] - n10[0]), 1)
    return out
