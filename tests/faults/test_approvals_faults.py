"""Approvals SIGKILLed mid-stage on the fault platform (`make run SIMULATE=1`): ten stage-1
applications accepted one after another, approvals killed right after the last acceptance
(items requested, answers on their way), the platform started again: every stage completes,
once, and no item is reviewed twice."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid

import httpx

from contracts.events.approvals import StageCompletedV1
from contracts.topics import topic_for
from servicekit.auth import Role
from tests.faults.harness import Platform
from tests.faults.workload import ROWS, Row
from tests.support.approvals import MATERIALS, STAGE_FORMS, project_form, upload_body
from tests.support.auth import bearer
from tests.support.kafka import read_all
from tests.support.waiting import wait_for

N_STAGES = 10
APPLICANT, WINDOW = bearer("u-apr-faults"), bearer("w-apr-faults", Role.WINDOW_STAFF)


def _post(url: str, body: dict | None, headers: dict[str, str]) -> httpx.Response:
    r = httpx.post(url, json=body, headers={**headers, "Idempotency-Key": str(uuid.uuid4())}, timeout=30)
    assert r.status_code in (200, 201), f"{url}: {r.status_code} {r.text[:300]}"
    return r


def test_approvals_sigkill_mid_stage_then_make_run(platform: Platform) -> None:
    base = platform.url("approvals")
    tag = uuid.uuid4().int % 10_000
    cases = []
    for i in range(N_STAGES):
        code = f"2026-620102-47-01-{tag:04d}{i:02d}"
        _post(f"{base}/projects", {"form": project_form(code)}, APPLICANT)
        for name in MATERIALS:
            _post(f"{base}/projects/{code}/materials", upload_body(name), APPLICANT)
        r = _post(f"{base}/projects/{code}/stages", {"stage": "initiation_land_use",
                                                      "form": STAGE_FORMS["initiation_land_use"]}, APPLICANT)
        cases.append(r.json()["case_number"])
    for case in cases:
        _post(f"{base}/stages/{case}/acceptance", None, WINDOW)
    killed_at = time.time()
    platform.signal("approvals", signal.SIGKILL)
    down, up = platform.restart_after_crash()

    def stage(case: str) -> dict:
        return httpx.get(f"{base}/stages/{case}", headers=APPLICANT, timeout=30).json()

    bodies = wait_for(lambda: (b := [stage(c) for c in cases]) and all(x["status"] == "completed" for x in b) and b,
                      timeout=120, interval=1, what="every stage completed after the restart")
    reviews = [rv["reviews"] for b in bodies for i in b["items"] for rv in i["reviews"]]
    topic = topic_for(StageCompletedV1).name
    records = wait_for(lambda: (rs := [r for r in asyncio.run(read_all(platform.bootstrap, topic, timeout=10))
                                       if r.key and r.key.decode() in cases]) and len({r.key for r in rs}) == N_STAGES
                       and rs, timeout=60, interval=1, what="every completion on the topic")
    per_case = {c: sum(1 for r in records if r.key.decode() == c) for c in cases}
    before_kill = sum(1 for r in records if r.timestamp / 1000 < killed_at)
    ROWS.append(Row(11, "SIGKILL approvals mid-stage, then `make run`", total=N_STAGES,
                    completed=sum(b["status"] == "completed" for b in bodies),
                    doubled=sum(n > 1 for n in per_case.values()) + sum(r > 1 for r in reviews),
                    notes=f"construction stages; {N_STAGES - before_kill} of {N_STAGES} not completed when killed; "
                          f"down {down:.0f}s, up {up:.0f}s"))
    assert all(r == 1 for r in reviews), "an item was reviewed twice"
    assert per_case == {c: 1 for c in cases}, per_case
    assert [[h["action"] for h in b["history"]].count("completed") for b in bodies] == [1] * N_STAGES
