"""A stalled database fails fast: with the database process stopped (SIGSTOP), an HTTP
call answers 503 problem+json with Retry-After within a few seconds instead of hanging,
readiness says so, and once the database runs again the same call succeeds."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest

from devstack.servers import db_command, free_port, spawn, stop_process, wait_port
from registration.bootstrap import create_app
from registration.config import Settings
from servicekit.auth import Role
from servicekit.config import load
from tests.support.apps import running
from tests.support.auth import bearer
from tests.support.forms import company_form


@pytest.fixture
def own_database(tmp_path) -> Iterator[tuple[str, int]]:
    """A database process of this test's own (it is paused; the session's is not)."""
    port = free_port()
    proc = spawn(db_command("127.0.0.1", port, str(tmp_path / "db")), log_path=tmp_path / "db.log")
    try:
        wait_port("127.0.0.1", port, 30, proc, "SecantusDB")
        yield f"mongodb://127.0.0.1:{port}/?directConnection=true", proc.pid
    finally:
        os.kill(proc.pid, signal.SIGCONT)
        stop_process(proc)


async def test_a_stalled_database_answers_503_with_retry_after_quickly(infra_env, unique, own_database) -> None:
    uri, pid = own_database
    settings = load(Settings, mongodb_uri=uri, mongodb_database=f"stall_{unique}", http_db_seconds=1.5)
    async with running(create_app(settings)) as reg:
        r = await reg.post("/cases", json={"form": company_form(f"停顿{unique}有限公司")}, headers=bearer("u-1"))
        assert r.status_code == 201, r.text
        case = r.json()["case_number"]
        os.kill(pid, signal.SIGSTOP)
        try:
            t0 = time.monotonic()
            r = await reg.get(f"/cases/{case}", headers=bearer("w-1", Role.WINDOW_STAFF))
            took = time.monotonic() - t0
            assert r.status_code == 503, r.text
            assert r.headers["content-type"] == "application/problem+json"
            assert int(r.headers["Retry-After"]) > 0
            assert took < 10, f"answered after {took:.1f}s"  # a hang lasts as long as the pause
            ready = await reg.get("/readyz")
            assert ready.status_code == 503 and ready.json()["database"] is False
        finally:
            os.kill(pid, signal.SIGCONT)
        r = await reg.get(f"/cases/{case}", headers=bearer("w-1", Role.WINDOW_STAFF))
        assert r.status_code == 200 and r.json()["case_number"] == case
