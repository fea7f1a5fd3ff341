"""One trace per HTTP request, and one case's journey as one trace: HTTP → outbox →
Kafka → the department simulator → the registration's batch consumer (linked) → outbox."""

from __future__ import annotations

import contextlib

import pytest
from opentelemetry import trace

from devstack.simulators import Script, SimulatorSettings, build
from registration.bootstrap import create_app
from registration.config import Settings
from servicekit.auth import Role
from servicekit.config import load
from servicekit.outbox import find_events
from tests.support.apps import running
from tests.support.auth import bearer
from tests.support.forms import company_form
from tests.support.tracing import span_exporter, spans_of, trace_id_of
from tests.support.waiting import eventually

STAFF = bearer("w-1", Role.WINDOW_STAFF)


@pytest.fixture
def settings(infra_env, unique) -> Settings:
    return load(Settings, mongodb_database=f"reg_{unique}", sweep_interval_seconds=0.2)


@contextlib.asynccontextmanager
async def departments():
    broker = build(load(SimulatorSettings), Script())
    await broker.start()
    try:
        yield
    finally:
        await broker.stop()


async def outbox_traces(client, case: str) -> dict[str, str]:
    """ce_type → trace id of each outbox event of the case (the first of each type)."""
    rows = await find_events(client.kit.db, key=case)
    found: dict[str, str] = {}
    for r in rows:
        found.setdefault(r["headers"]["ce_type"], trace_id_of(r["traceparent"]))
    return found


async def test_every_request_gets_its_own_trace_even_inside_a_leaked_context(settings, unique):
    """The in-process client runs the app in the caller's context: the same leak as uvicorn's
    kept-open connection (the next request's task copies the previous request's context)."""
    span_exporter()
    async with running(create_app(settings)) as reg:
        with trace.get_tracer("test").start_as_current_span("leaked") as leaked:
            leaked_id = format(leaked.get_span_context().trace_id, "032x")
            ids, cases = [], {}
            for _ in range(40):
                r = await reg.get("/cases", headers=bearer("u-1"))
                ids.append(r.headers["x-trace-id"])
            for who in ("u-a", "u-b"):  # two applicants on one connection
                r = await reg.post("/cases", json={"form": company_form(f"兰州{unique}{who}科技有限公司"),
                                                   "applicant_phone": "13912345678"}, headers=bearer(who))
                assert r.status_code == 201, r.text
                cases[r.json()["case_number"]] = r.headers["x-trace-id"]
        assert leaked_id not in ids and len(set(ids)) == 40
        assert len(set(cases.values())) == 2 and leaked_id not in cases.values()
        for case, trace_id in cases.items():  # each case's event carries its own request's trace
            assert await outbox_traces(reg, case) == {"cn.gov.onewindow.registration.application-submitted.v1": trace_id}


async def test_an_incoming_traceparent_is_honoured_and_an_invalid_one_ignored(settings):
    span_exporter()
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    async with running(create_app(settings)) as reg:
        r = await reg.get("/cases", headers={**bearer("u-1"), "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"})
        assert r.headers["x-trace-id"] == trace_id
        r = await reg.get("/cases", headers={**bearer("u-1"), "traceparent": "00-zz-00f067aa0ba902b7-01"})
        assert r.headers["x-trace-id"] != trace_id and len(r.headers["x-trace-id"]) == 32


async def test_one_case_journey_is_one_trace_through_the_departments(settings, unique):
    exporter = span_exporter()
    async with running(create_app(settings)) as reg, departments():
        r = await reg.post("/cases", json={"form": company_form(f"兰州{unique}科技有限公司"),
                                           "applicant_phone": "13912345678"}, headers=bearer("u-1"))
        case = r.json()["case_number"]
        r = await reg.post(f"/cases/{case}/window-check", json={}, headers=STAFF)
        assert r.status_code == 200, r.text
        journey = r.headers["x-trace-id"]

        async def completed():
            r = await reg.get(f"/cases/{case}", headers=bearer("u-1"))
            return r.json()["status"] == "completed" or None

        await eventually(completed, timeout=30)
        traces = await outbox_traces(reg, case)
    # everything after the acceptance, across four departments' answers, is the acceptance's trace
    after = {t: tid for t, tid in traces.items() if not t.endswith("application-submitted.v1")}
    assert len(after) >= 3 and set(after.values()) == {journey}, traces
    spans = spans_of(journey)
    names = {s.name for s in spans}
    assert any("step-requested" in n and "process" in n for n in names), names  # the simulator consumed it
    batch = [s for s in exporter.get_finished_spans() if s.name.endswith("process batch")
             and any(format(link.context.trace_id, "032x") == journey for link in s.links)]
    assert batch, "the batch consumer's span links to the case's trace"
