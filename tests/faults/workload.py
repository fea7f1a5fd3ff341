"""A batch of registration cases driven through the HTTP API, and the exactly-once check.

"Each applicant message" is an SMS to the applicant's phone with its own text: the case's
submitted / accepted / licence issued / one per step done / completed messages (8 for a
case that goes straight through; every text names the case). The baseline batch gives the
count per case the other batches are checked against.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx

from contracts.events.registration import CaseCompletedV1
from contracts.topics import topic_for
from servicekit.auth import Role
from tests.faults.harness import Platform
from tests.support.auth import bearer
from tests.support.forms import company_form
from tests.support.kafka import read_all
from tests.support.waiting import wait_for

N_CASES = 30
APPLICANT = bearer("u-faults")
WINDOW = bearer("w-faults", Role.WINDOW_STAFF)


@dataclass
class Row:
    order: int
    fault: str
    total: int = N_CASES
    completed: int = 0
    lost: int = 0
    doubled: int = 0
    sms_sent: int = 0
    sms_expected: int = 0
    notes: str = ""


ROWS: list[Row] = []


@dataclass
class Call:
    """One HTTP call: how long it took and how it ended (for the stall scenarios)."""

    what: str
    seconds: float
    status: int | str
    started: float = 0.0  # time.monotonic()


def _in_progress(r: httpx.Response) -> bool:
    """409 with Retry-After: an Idempotency-Key still held by an earlier try (e.g. one answered
    503 while the database stalled), or a conflict with a transaction the stall left open on
    the database: retry later, as the answer says."""
    return r.status_code == 409 and "Retry-After" in r.headers


@dataclass
class Batch:
    platform: Platform
    label: str
    phone: str = field(default_factory=lambda: "139" + str(uuid.uuid4().int)[:8])
    cases: list[str] = field(default_factory=list)
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:6])  # company names are unique platform-wide
    calls: list[Call] = field(default_factory=list)
    timeout: float = 8.0  # per HTTP call: a hanging call shows as a timeout, not a stuck suite

    @property
    def reg(self) -> str:
        return self.platform.url("registration")

    def _call(self, what: str, method: str, url: str, **kw) -> httpx.Response | None:
        t = time.monotonic()
        try:
            r = httpx.request(method, url, timeout=self.timeout, **kw)
        except httpx.HTTPError as exc:
            self.calls.append(Call(what, time.monotonic() - t, type(exc).__name__, t))
            return None
        self.calls.append(Call(what, time.monotonic() - t, r.status_code, t))
        return r

    def open_case(self, i: int, attempts: int = 60) -> str:
        """Submit and window-check case ``i``; retried (same Idempotency-Key, bounded) while
        the platform answers 503 or is down."""
        name = f"兰州{self.label}{self.tag}{i}号科技有限公司"
        key = f"faults-{self.label}-{i}-{uuid.uuid4().hex[:6]}"
        case = None
        for _ in range(attempts):
            if case is None:
                r = self._call("submit", "POST", f"{self.reg}/cases",
                               json={"form": company_form(name), "applicant_phone": self.phone},
                               headers={**APPLICANT, "Idempotency-Key": f"{key}-s"})
                if r is not None and r.status_code == 201:
                    case = r.json()["case_number"]
                elif r is not None and r.status_code not in (503, 502) and not _in_progress(r):
                    raise AssertionError(f"submit: {r.status_code} {r.text[:300]}")
            if case is not None:
                r = self._call("window-check", "POST", f"{self.reg}/cases/{case}/window-check", json={},
                               headers={**WINDOW, "Idempotency-Key": f"{key}-w"})
                if r is not None and r.status_code == 200:
                    assert r.json()["status"] == "accepted", r.text
                    self.cases.append(case)
                    return case
                if r is not None and r.status_code not in (503, 502) and not _in_progress(r):
                    raise AssertionError(f"window-check: {r.status_code} {r.text[:300]}")
            time.sleep(0.5)
        raise AssertionError(f"case {i} of {self.label} not accepted after {attempts} tries")

    def open_cases(self, n: int) -> None:
        for _ in range(n):
            self.open_case(len(self.cases))

    def statuses(self) -> dict[str, str]:
        out = {}
        for c in self.cases:
            r = self._call("get", "GET", f"{self.reg}/cases/{c}", headers=APPLICANT)
            out[c] = r.json()["status"] if r is not None and r.status_code == 200 else "?"
        return out

    def completed(self) -> int:
        return sum(s == "completed" for s in self.statuses().values())

    def sms(self) -> dict[str, Counter[str]]:
        """Per case: each applicant SMS text and how many times the gateway got it."""
        got = httpx.get(f"{self.platform.gateway_url}/received", params={"to": self.phone}, timeout=10).json()
        out: dict[str, Counter[str]] = {c: Counter() for c in self.cases}
        for m in got:
            if m["channel"] == "sms" and m.get("case_number") in out:
                out[m["case_number"]][m["text"]] += 1
        return out


def completions(platform: Platform) -> Counter[str]:
    """Distinct CaseCompletedV1 events (by ce_id) per case on the topic: the duplicates scenario
    re-publishes completions itself, same ce_id; a second completion by registration has its own."""
    records = asyncio.run(read_all(platform.bootstrap, topic_for(CaseCompletedV1).name, timeout=10))
    ids = {(r.key.decode(), dict(r.headers).get("ce_id")) for r in records if r.key}
    return Counter(case for case, _ in ids)


def settle(batch: Batch, per_case_sms: int, timeout: float = 150) -> None:
    """Wait (bounded) until every case completed and got all its SMS, or the time is up."""
    def done() -> bool:
        if batch.completed() < len(batch.cases):
            return False
        sms = batch.sms()
        return all(len(sms[c]) >= per_case_sms for c in batch.cases)

    try:
        wait_for(done, timeout=timeout, interval=1.0, what=f"{batch.label}: every case completed with its SMS")
    except AssertionError:
        pass  # counted as lost below


def marker(platform: Platform, per_case_sms: int) -> None:
    """A case opened after everything else, gone all the way (completion on the topic, every
    SMS at the gateway): a duplicate of an earlier case's completion or SMS would be out by now."""
    m = Batch(platform, "marker")
    case = m.open_case(0)
    wait_for(lambda: m.completed() == 1, timeout=90, interval=0.5, what="the marker case completed")
    wait_for(lambda: completions(platform)[case] >= 1, timeout=60, interval=0.5, what="the marker's completion")
    wait_for(lambda: len(m.sms()[case]) >= per_case_sms, timeout=60, interval=0.5, what="the marker's SMS")


def check(batch: Batch, fault: str, order: int, per_case_sms: int, notes: str = "") -> Row:
    """Settle, run a marker case through, count; record the row (also when it fails)."""
    settle(batch, per_case_sms)
    try:
        marker(batch.platform, per_case_sms)
    except AssertionError as exc:
        notes = f"{notes}; **the marker case did not go through** ({exc})"
    statuses = batch.statuses()
    done = completions(batch.platform)
    sms = batch.sms()
    lost = {c for c in batch.cases
            if statuses[c] != "completed" or done[c] == 0 or len(sms[c]) < per_case_sms}
    doubled = {c for c in batch.cases if done[c] > 1 or any(n > 1 for n in sms[c].values())}
    row = Row(order, fault, len(batch.cases), sum(s == "completed" for s in statuses.values()), len(lost),
              len(doubled), sum(sum(v.values()) for v in sms.values()), per_case_sms * len(batch.cases), notes)
    ROWS[:] = [r for r in ROWS if r.fault != fault] + [row]
    assert len(batch.cases) == N_CASES
    assert not lost, f"{fault}: lost {sorted(lost)}: statuses {[statuses[c] for c in sorted(lost)]}, " \
                     f"completions {[done[c] for c in sorted(lost)]}, SMS {[len(sms[c]) for c in sorted(lost)]}"
    assert not doubled, f"{fault}: doubled {sorted(doubled)}: completions {[done[c] for c in sorted(doubled)]}, " \
                        f"SMS {[dict(sms[c]) for c in sorted(doubled) if any(n > 1 for n in sms[c].values())]}"
    return row
