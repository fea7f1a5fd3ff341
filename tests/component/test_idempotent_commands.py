"""Idempotent HTTP commands, in the running services on the real database: with an
``Idempotency-Key`` a retry gets the first answer and the effect happens once (the answer is
committed with the effect); without one, the domain recognises the same request (a window
check retried after a lost reply answers with the case, not 409). Effects are counted in
the outbox and the case history."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import replace
from typing import Any

import pytest

from contracts import topic_for_type
from contracts.events import registration as ev
from notifications.bootstrap import create_app as notifications_app
from notifications.config import Settings as NotificationSettings
from registration.bootstrap import create_app
from registration.config import Settings
from registration.repository import CASES, MongoCaseRepository, MongoRepositories
from servicekit.auth import Role
from servicekit.config import load
from servicekit.idempotency import IDEMPOTENCY, IdempotencyStore
from servicekit.outbox import find_events
from tests.support.apps import running
from tests.support.auth import bearer
from tests.support.forms import company_form
from tests.support.waiting import eventually

APPLICANT = bearer("u-1")
STAFF = bearer("w-1", Role.WINDOW_STAFF)


@pytest.fixture
def settings(infra_env, unique) -> Settings:
    return load(Settings, mongodb_database=f"reg_{unique}")


def key(k: str, who: dict[str, str] = STAFF) -> dict[str, str]:
    return {**who, "Idempotency-Key": k}


async def submitted(reg, unique: str, **form: Any) -> str:
    r = await reg.post("/cases", json={"form": company_form(f"榆中{unique}农业有限公司", **form)}, headers=APPLICANT)
    assert r.status_code == 201, r.text
    return r.json()["case_number"]


async def emitted(reg, case: str, event: type) -> int:
    """How many ``event``s the case's commands wrote to the outbox."""
    return len(await find_events(reg.kit.db, key=case, topic=topic_for_type(event.ce_type).name))


async def actions(reg, case: str) -> list[str]:
    return [h["action"] for h in (await reg.kit.db[CASES].find_one({"_id": case}))["history"]]


def ms(body: Any) -> Any:
    """The answer with its times to the millisecond: the database keeps milliseconds, so a case
    read back (a retry without a key) carries the first reply's times cut to them."""
    return json.loads(re.sub(r'(T\d\d:\d\d:\d\d\.\d{3})\d+', r"\1", json.dumps(body)))


def check(reg, case: str, headers: dict[str, str], defects: list | None = None):
    return reg.post(f"/cases/{case}/window-check", json={"defects": defects or []}, headers=headers)


def cases_repository(reg, make) -> None:
    """The running service's transactions load and save cases through ``make(db, session)``."""
    reg.kit.uow.bind = lambda db, session: replace(MongoRepositories.bind(db, session), cases=make(db, session))


# -- with a key -------------------------------------------------------------------------------
async def test_the_same_key_and_body_replays_the_first_answer_and_the_effect_happens_once(settings, unique):
    async with running(create_app(settings)) as reg:
        case = await submitted(reg, unique)
        first = await check(reg, case, key("wc-1"))
        again = await check(reg, case, key("wc-1"))
        assert first.status_code == again.status_code == 200 and first.json()["status"] == "accepted"
        assert again.content == first.content and again.headers["content-type"] == first.headers["content-type"]
        assert again.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers
        assert await emitted(reg, case, ev.ApplicationAcceptedV1) == 1
        assert (await actions(reg, case)).count("accepted") == 1
        # the key is the caller's own: another staff member's request under it is a new request
        other = await check(reg, case, key("wc-1", bearer("w-2", Role.WINDOW_STAFF)))
        assert other.status_code == 409 and "idempotent-replayed" not in other.headers
        stored = await reg.kit.db[IDEMPOTENCY].find_one({"sub": "w-1", "key": "wc-1"})
        assert (stored["request"], stored["state"], stored["status"]) == (f"POST /cases/{case}/window-check", "done",
                                                                         200)


async def test_a_submission_replayed_by_key_is_201_again_and_one_case(settings, unique):
    async with running(create_app(settings)) as reg:
        body = {"form": company_form(f"永登{unique}建材有限公司")}
        first = await reg.post("/cases", json=body, headers=key("sub-1", APPLICANT))
        again = await reg.post("/cases", json=body, headers=key('"sub-1"', APPLICANT))  # the draft's sf-string form
        assert first.status_code == again.status_code == 201 and again.content == first.content
        assert await reg.kit.db[CASES].count_documents({}) == 1


async def test_the_same_key_with_another_body_is_422_naming_the_header_and_changes_nothing(settings, unique):
    async with running(create_app(settings)) as reg:
        case = await submitted(reg, unique)
        assert (await check(reg, case, key("wc-1"))).status_code == 200
        other = await check(reg, case, key("wc-1"), defects=[{"field": "address.detail", "reason": "门牌号不清"}])
        assert other.status_code == 422 and other.headers["content-type"] == "application/problem+json"
        assert other.json()["errors"][0]["field"] == "Idempotency-Key"
        assert await emitted(reg, case, ev.ApplicationIncompleteV1) == 0
        for bad in ('""', "k" * 300):
            r = await check(reg, case, key(bad))
            assert r.status_code == 422 and r.json()["errors"][0]["field"] == "Idempotency-Key"


async def test_a_duplicate_while_the_first_is_in_flight_is_409_with_retry_after(settings, unique):
    entered, go = asyncio.Event(), asyncio.Event()

    class Held(MongoCaseRepository):
        async def get(self, case_number):
            case = await super().get(case_number)
            if self.session is not None and not entered.is_set():  # the first transaction waits here
                entered.set()
                await go.wait()
            return case

    async with running(create_app(settings)) as reg:
        case = await submitted(reg, unique)
        cases_repository(reg, Held)
        first = asyncio.create_task(check(reg, case, key("wc-1")))
        await asyncio.wait_for(entered.wait(), 10)
        duplicate = await check(reg, case, key("wc-1"))
        assert duplicate.status_code == 409 and duplicate.headers["retry-after"] == "1"
        assert duplicate.headers["content-type"] == "application/problem+json"
        go.set()
        first_reply = await first
        assert first_reply.status_code == 200
        assert (await check(reg, case, key("wc-1"))).content == first_reply.content
        assert await emitted(reg, case, ev.ApplicationAcceptedV1) == 1


# -- crashes between the effect and the reply -------------------------------------------------
class LoseReply:
    """Runs the first request to ``path`` to its end (the use case commits), then loses its
    reply, as a dropped connection would."""

    def __init__(self, suffix: str) -> None:
        self.suffix, self.lost = suffix, None

    def __call__(self, app):
        async def wrapped(scope, receive, send):
            if self.lost is None and scope["type"] == "http" and scope["path"].endswith(self.suffix):
                chunks: list[bytes] = []

                async def drop(message):
                    if message["type"] == "http.response.body":
                        chunks.append(message.get("body", b""))

                await app(scope, receive, drop)
                self.lost = b"".join(chunks)
                raise ConnectionResetError("the reply was lost")
            await app(scope, receive, send)

        return wrapped


@pytest.mark.parametrize("with_key", [True, False], ids=["key", "no-key"])
async def test_a_reply_lost_after_the_commit_is_answered_by_the_retry(settings, unique, with_key):
    lose = LoseReply("/window-check")
    async with running(create_app(settings), wrap=lose) as reg:
        case = await submitted(reg, unique)
        headers = key("wc-1") if with_key else STAFF
        with pytest.raises(ConnectionResetError):
            await check(reg, case, headers)
        assert lose.lost and await emitted(reg, case, ev.ApplicationAcceptedV1) == 1  # committed, reply lost
        retry = await check(reg, case, headers)
        assert retry.status_code == 200 and retry.json()["status"] == "accepted"
        if with_key:  # byte for byte the answer that was lost
            assert retry.content == lose.lost and retry.headers["idempotent-replayed"] == "true"
        assert await emitted(reg, case, ev.ApplicationAcceptedV1) == 1
        assert await emitted(reg, case, ev.StepRequestedV1) == 1
        assert (await actions(reg, case)).count("accepted") == 1


async def test_a_failure_right_after_the_commit_is_answered_by_the_retry(settings, unique):
    async with running(create_app(settings)) as reg:
        case = await submitted(reg, unique)
        wake_relay = reg.kit.uow.on_commit

        def crash_once():
            reg.kit.uow.on_commit = wake_relay
            raise RuntimeError("the process fails between the commit and the reply")

        reg.kit.uow.on_commit = crash_once
        with pytest.raises(RuntimeError):  # the 500 reaches the test client as the exception
            await check(reg, case, key("wc-1"))
        retry = await check(reg, case, key("wc-1"))
        assert retry.status_code == 200 and retry.json()["status"] == "accepted"
        assert retry.headers["idempotent-replayed"] == "true"
        assert await emitted(reg, case, ev.ApplicationAcceptedV1) == 1


async def test_a_request_that_died_before_its_commit_is_run_by_a_retry_once_its_lock_expires(
        infra_env, unique, monkeypatch):
    settings = load(Settings, mongodb_database=f"reg_{unique}", idempotency_lock_seconds=1.0)
    crashes = [1]

    class Dying(MongoCaseRepository):
        async def save(self, case):
            if crashes:
                crashes.pop()
                raise RuntimeError("the process dies before the commit")
            await super().save(case)

    async with running(create_app(settings)) as reg:
        case = await submitted(reg, unique)
        cases_repository(reg, Dying)

        async def never(self, reservation):  # a dead process releases nothing
            return None

        with monkeypatch.context() as m:
            m.setattr(IdempotencyStore, "release", never)
            with pytest.raises(RuntimeError):
                await check(reg, case, key("wc-1"))
        assert await emitted(reg, case, ev.ApplicationAcceptedV1) == 0  # nothing committed
        held = await check(reg, case, key("wc-1"))
        assert held.status_code == 409 and held.headers["retry-after"] == "1"

        async def taken_over():
            r = await check(reg, case, key("wc-1"))
            return r if r.status_code != 409 else None

        retry = await eventually(taken_over, timeout=10)
        assert retry.status_code == 200 and retry.json()["status"] == "accepted"
        assert await emitted(reg, case, ev.ApplicationAcceptedV1) == 1


# -- without a key: the domain recognises the same request -------------------------------------
async def test_a_window_check_retried_without_a_key_answers_with_the_case_once(settings, unique):
    async with running(create_app(settings)) as reg:
        case = await submitted(reg, unique)
        first = await check(reg, case, STAFF)
        again = await check(reg, case, STAFF)
        assert first.status_code == again.status_code == 200
        assert ms(again.json()) == ms(first.json()) and again.json()["status"] == "accepted"
        assert await emitted(reg, case, ev.ApplicationAcceptedV1) == 1
        assert await reg.kit.db["timers"].count_documents({"payload.case_number": case}) == 2
        other = await check(reg, case, bearer("w-2", Role.WINDOW_STAFF))
        assert other.status_code == 409  # another staff member's check is not a retry


async def test_decision_helper_and_submission_retried_without_a_key_change_nothing(settings, unique):
    async with running(create_app(settings)) as reg:
        case = await submitted(reg, unique)
        assert (await check(reg, case, STAFF)).status_code == 200
        market = bearer("r-ms", Role.REVIEWER, department="market_supervision")
        decide = {"decision": "approved", "attempt": 1}
        first = await reg.post(f"/cases/{case}/steps/licence/decision", json=decide, headers=market)
        again = await reg.post(f"/cases/{case}/steps/licence/decision", json=decide, headers=market)
        assert first.status_code == again.status_code == 200 and ms(again.json()) == ms(first.json())
        assert await emitted(reg, case, ev.LicenceIssuedV1) == 1
        supervisor = bearer("s-1", Role.SUPERVISOR)
        for _ in range(2):
            r = await reg.put(f"/cases/{case}/helper", json={"helper_id": "h-1"}, headers=supervisor)
            assert r.status_code == 200 and r.json()["helper_id"] == "h-1"
        assert (await actions(reg, case)).count("helper_assigned") == 1
        form = {"form": company_form(f"皋兰{unique}果蔬有限公司")}
        one = await reg.post("/cases", json=form, headers=APPLICANT)
        two = await reg.post("/cases", json=form, headers=APPLICANT)
        assert (one.status_code, two.status_code) == (201, 200)
        assert two.json()["case_number"] == one.json()["case_number"]
        assert await emitted(reg, one.json()["case_number"], ev.ApplicationSubmittedV1) == 1


# -- notifications: the same mechanism --------------------------------------------------------
async def test_a_subscription_is_created_once_per_key_and_switching_twice_is_harmless(infra_env, unique):
    settings = load(NotificationSettings, mongodb_database=f"ntf_{unique}")
    agency = bearer("sys-tax", Role.PARTNER_AGENCY, agency_id="tax")
    body = {"event_types": [ev.StepRequestedV1.ce_type], "webhook_url": "https://tax.example/hooks"}
    async with running(notifications_app(settings)) as ntf:
        first = await ntf.post("/subscriptions", json=body, headers=key("s-1", agency))
        again = await ntf.post("/subscriptions", json=body, headers=key("s-1", agency))
        assert first.status_code == again.status_code == 201 and again.content == first.content
        assert await ntf.kit.db["subscriptions"].count_documents({}) == 1
        sid = first.json()["subscription_id"]
        off = [await ntf.post(f"/subscriptions/{sid}/disable", headers=agency) for _ in range(2)]
        assert [r.status_code for r in off] == [200, 200] and off[1].json() == off[0].json()
        on = [await ntf.post(f"/subscriptions/{sid}/enable", headers=agency) for _ in range(2)]
        assert [r.json()["status"] for r in on] == ["active", "active"]
