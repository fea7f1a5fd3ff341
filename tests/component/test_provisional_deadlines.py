"""A deadline counted into a year the calendar does not know: provisional on the case (API),
alerted (metric), and re-dated when the service restarts with the year's override file."""

from __future__ import annotations

from datetime import UTC, datetime

from registration.bootstrap import create_app
from registration.config import Settings
from servicekit.auth import Role
from servicekit.clock import FrozenClock
from servicekit.config import load
from servicekit.outbox import find_events
from tests.support.apps import running
from tests.support.auth import bearer
from tests.support.forms import company_form

APPLICANT = bearer("u-1")
STAFF = bearer("w-1", Role.WINDOW_STAFF)
ESTIMATE = "2027-01-04T16:00:00Z"  # Monday 4 Jan 2027 24:00 Beijing: 1 Jan off, no schedule known
KNOWN = "2027-01-05T16:00:00Z"  # with CN-2027.toml taking 4 Jan off too: Tuesday 5 Jan 24:00


async def test_a_provisional_due_date_is_shown_alerted_and_redated_when_the_year_arrives(infra_env, unique, tmp_path):
    clock = FrozenClock(datetime(2026, 12, 31, 2, 0, tzinfo=UTC))  # Thursday 31 Dec 2026, 10:00 Beijing
    settings = load(Settings, mongodb_database=f"reg_{unique}", calendar_override_dir=str(tmp_path))
    async with running(create_app(settings, clock=clock)) as reg:
        r = await reg.post("/cases", json={"form": company_form(f"定西{unique}薯业有限公司")}, headers=APPLICANT)
        case = r.json()["case_number"]
        r = await reg.post(f"/cases/{case}/window-check", json={}, headers=STAFF)
        assert r.status_code == 200, r.text
        body = (await reg.get(f"/cases/{case}", headers=APPLICANT)).json()
        assert (body["due_at"].replace("+00:00", "Z"), body["due_at_provisional"]) == (ESTIMATE, True)
        metrics = (await reg.get("/metrics")).text
        assert 'one_window_provisional_deadlines_total{year="2027"} 1.0' in metrics

    (tmp_path / "CN-2027.toml").write_text('holidays = ["2027-01-01", "2027-01-04"]\n', encoding="utf-8")
    async with running(create_app(settings, clock=clock)) as reg:  # operators restart with the file
        body = (await reg.get(f"/cases/{case}", headers=APPLICANT)).json()
        assert (body["due_at"].replace("+00:00", "Z"), body["due_at_provisional"]) == (KNOWN, False)
        assert body["history"][-1]["action"] == "redated"
        db = reg.kit.db
        assert len(await find_events(db, key=case, topic="registration.deadline-redated.v1")) == 1
        overdue = await db["timers"].find_one({"_id": f"{case}:overdue"})
        assert overdue["due_at"].replace(tzinfo=UTC) == datetime(2027, 1, 5, 16, 0, tzinfo=UTC)
