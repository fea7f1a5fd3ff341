"""Crossregion's use cases over the shared fake unit of work and in-memory repositories:
registration's events followed and sent back to the origin; delivery in order per region with
backoff, nothing dropped; who may do what. No I/O."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from contracts.events import crossregion as xr
from contracts.events import registration as reg
from crossregion.domain import Backlog, Backoff, CrossCase, NotAllowed, NotFound, Outgoing, PartnerRegion
from crossregion.service import Cases, Delivery, Inbound
from servicekit.auth import Principal, Role
from servicekit.clock import FrozenClock
from tests.support.events import make
from tests.support.fakes import FakeUnitOfWork

T0 = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
JINCHANG, WUWEI, LANZHOU = "620300", "620600", "620100"
KEY = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="


class Regions:
    def __init__(self) -> None:
        self.rows: dict[str, PartnerRegion] = {}

    async def find(self, code: str) -> PartnerRegion | None:
        return copy.deepcopy(self.rows.get(code))

    async def get(self, code: str) -> PartnerRegion:
        if code not in self.rows:
            raise NotFound(code)
        return copy.deepcopy(self.rows[code])

    async def by_key_id(self, key_id: str) -> PartnerRegion | None:
        return next((r for r in self.rows.values() if any(k.key_id == key_id for k in r.keys)), None)

    async def list(self) -> list[PartnerRegion]:
        return [copy.deepcopy(r) for r in self.rows.values()]

    async def save(self, region: PartnerRegion) -> None:
        self.rows[region.division_code] = copy.deepcopy(region)


class CrossCases:
    def __init__(self) -> None:
        self.rows: dict[str, CrossCase] = {}

    async def add(self, case: CrossCase) -> None:
        self.rows[case.reference] = _stored(case)

    async def find(self, reference: str) -> CrossCase | None:
        return copy.deepcopy(self.rows.get(reference))

    async def get(self, reference: str) -> CrossCase:
        if reference not in self.rows:
            raise NotFound(reference)
        return copy.deepcopy(self.rows[reference])

    async def save(self, case: CrossCase) -> None:
        self.rows[case.reference] = _stored(case)


def _stored(case: CrossCase) -> CrossCase:
    stored = copy.deepcopy(case)
    stored.pull_events()
    return stored


class Queue:
    def __init__(self) -> None:
        self.rows: dict[str, Outgoing] = {}
        self.claims: dict[str, str] = {}

    async def add(self, item: Outgoing) -> None:
        self.rows[item.exchange_id] = copy.deepcopy(item)

    async def claim_due(self, now: datetime, until: datetime, token: str, limit: int) -> list[Outgoing]:
        due = sorted((o for o in self.rows.values() if o.status == "pending" and o.due_at <= now),
                     key=lambda o: o.created_at)[:limit]
        for o in due:
            o.due_at, self.claims[o.exchange_id] = until, token
        return [copy.deepcopy(o) for o in due]

    async def save_claimed(self, item: Outgoing, token: str) -> bool:
        if self.claims.get(item.exchange_id) != token:
            return False
        self.rows[item.exchange_id] = copy.deepcopy(item)
        del self.claims[item.exchange_id]
        return True

    async def forget_delivered(self, before: datetime) -> int:
        gone = [k for k, o in self.rows.items() if o.status == "delivered" and o.delivered_at and o.delivered_at < before]
        for k in gone:
            del self.rows[k]
        return len(gone)

    async def backlog(self) -> Backlog:
        pending = [o for o in self.rows.values() if o.status == "pending"]
        return Backlog(len(pending), min((o.created_at for o in pending), default=None), {})


@dataclass
class Repos:
    regions: Regions = field(default_factory=Regions)
    cases: CrossCases = field(default_factory=CrossCases)
    outgoing: Queue = field(default_factory=Queue)
    exchanges: object = None


def partner(code: str, name: str) -> PartnerRegion:
    return PartnerRegion.register(division_code=code, name=name, endpoint=f"https://{code}.example.cn/exchange",
                                  key_id=f"{code}-1", public_key=KEY, matters=["licence_change"],
                                  modes=["proxy", "joint"], our_key_id="", now=T0)


class Signer:
    def sign(self, **kw) -> dict[str, str]:
        return {"signature": "x"}

    def public_keys(self) -> dict[str, str]:
        return {}


class Sender:
    """Partners by endpoint: up (None) or down (the error); records what it took."""

    def __init__(self) -> None:
        self.down: set[str] = set()
        self.took: list[tuple[str, str]] = []

    async def post(self, url: str, body: bytes, headers) -> str | None:
        if url in self.down:
            return "connection refused"
        self.took.append((url, body.decode()))
        return None


def registration_event(cls, case: str, reference: str, **fields):
    return make(cls, case, correlation_id=reference, **fields)


async def test_registration_s_events_about_a_forwarded_case_go_back_to_the_origin_in_order() -> None:
    uow = FakeUnitOfWork(Repos())
    clock = FrozenClock(T0)
    await uow.repos.regions.save(partner(WUWEI, "武威市"))
    case = CrossCase.receive(reference=f"{WUWEI}-20261126-0A1B2C3D", here=JINCHANG, here_name="金昌市",
                             origin_region=WUWEI, origin_name="武威市", mode="proxy", matter="licence_change",
                             applicant_id="u-1", applicant_phone=None, form={}, deliver_at="origin", now=T0)
    await uow.repos.cases.add(case)
    inbound = Inbound(uow=uow, clock=clock, verifier=None, here=JINCHANG, here_name="金昌市")  # type: ignore[arg-type]
    ref = case.reference
    accepted = registration_event(reg.ApplicationAcceptedV1, "BG1", ref, applicant_id="u-1", company_name="x",
                                  kind="change", channel="other_region", accepted_at=T0, due_at=T0, staff_id="w-a")
    completed = registration_event(reg.CaseCompletedV1, "BG1", ref, applicant_id="u-1", company_name="x",
                                   kind="change", unified_social_credit_code="91620300MA0000077X", accepted_at=T0,
                                   completed_at=T0, within_time_limit=True, results={})
    other = registration_event(reg.ApplicationAcceptedV1, "BG2", "someone-else", applicant_id="u-2", company_name="y",
                               kind="change", channel="web", accepted_at=T0, due_at=T0, staff_id="w-a")
    for e in (accepted, accepted, other, completed):  # a redelivery, and a case that is not ours
        await inbound.on_registration_event(e)
    queued = sorted(uow.repos.outgoing.rows.values(), key=lambda o: o.body)
    bodies = [xr_body(o) for o in uow.repos.outgoing.rows.values()]
    assert [(b["seq"], b["status"], b["case_number"]) for b in sorted(bodies, key=lambda b: b["seq"])] == [
        (1, "accepted", "BG1"), (2, "completed", "BG1")]
    assert all(o.region == WUWEI for o in queued)
    stored = uow.repos.cases.rows[ref]
    assert stored.status == "completed" and stored.remote_case_number == "BG1"
    # the completion event is the origin's to publish (the applicant is served there)
    assert not [e for e in uow.emitted if isinstance(e, xr.CrossRegionCaseCompletedV1)]


def xr_body(item: Outgoing) -> dict:
    import json

    return json.loads(item.body)["body"]


async def test_delivery_keeps_a_region_s_order_retries_with_backoff_and_drops_nothing() -> None:
    uow = FakeUnitOfWork(Repos())
    clock = FrozenClock(T0)
    for code, name in ((JINCHANG, "金昌市"), (LANZHOU, "兰州市")):
        await uow.repos.regions.save(partner(code, name))
    sender = Sender()
    sender.down.add(f"https://{JINCHANG}.example.cn/exchange")
    delivery = Delivery(uow=uow, clock=clock, signer=Signer(), sender=sender, here=WUWEI,
                        backoff=Backoff(1, 60), expires_in=timedelta(minutes=5), rand=lambda: 0.0)
    for i, region in enumerate((JINCHANG, JINCHANG, LANZHOU)):
        await uow.repos.outgoing.add(Outgoing(exchange_id=f"x{i}", region=region, reference="r", kind="case.status",
                                              body=f'{{"n": {i}}}', created_at=T0 + timedelta(seconds=i), due_at=T0))
    clock.advance(seconds=5)
    assert await delivery.run_once() == 2  # one attempt at Jinchang (down), its second waits; Lanzhou delivered
    rows = uow.repos.outgoing.rows
    assert rows["x2"].status == "delivered" and rows["x0"].attempts == 1 and rows["x1"].attempts == 0
    assert rows["x0"].last_error == "connection refused" and rows["x1"].due_at == rows["x0"].due_at
    assert (await delivery.backlog()).pending == 2
    assert await delivery.run_once() == 0  # not due yet
    sender.down.clear()  # Jinchang is back
    clock.advance(seconds=5)
    assert await delivery.run_once() == 2
    assert [url for url, _ in sender.took] == [f"https://{LANZHOU}.example.cn/exchange"] + [
        f"https://{JINCHANG}.example.cn/exchange"] * 2
    assert [body for _, body in sender.took[1:]] == ['{"n": 0}', '{"n": 1}']  # in order, once each
    assert (await delivery.backlog()).pending == 0
    assert await delivery.forget_delivered(timedelta(hours=1)) == 0  # delivered just now: kept
    clock.advance(hours=2)
    assert await delivery.forget_delivered(timedelta(hours=1)) == 3 and not uow.repos.outgoing.rows


async def test_only_window_staff_take_cases_for_other_regions_and_only_agreed_matters() -> None:
    uow = FakeUnitOfWork(Repos())
    await uow.repos.regions.save(partner(JINCHANG, "金昌市"))
    cases = Cases(uow=uow, clock=FrozenClock(T0), here=WUWEI, here_name="武威市")
    args = dict(mode="proxy", matter="licence_change", handling_regions=[JINCHANG], applicant_id="u-1",
                applicant_phone=None, form={}, deliver_at="origin")
    with pytest.raises(NotAllowed):
        await cases.take(Principal("u-1", Role.APPLICANT), **args)  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        await cases.take(Principal("w-1", Role.WINDOW_STAFF), **{**args, "handling_regions": [LANZHOU]})  # type: ignore[arg-type]
    case = await cases.take(Principal("w-1", Role.WINDOW_STAFF), **args)  # type: ignore[arg-type]
    [item] = uow.repos.outgoing.rows.values()
    assert item.region == JINCHANG and item.kind == "case.forwarded" and xr_body(item)["reference"] == case.reference
    assert [type(e) for e in uow.emitted] == [xr.CrossCaseOpenedV1]


async def test_operators_register_regions_a_new_key_goes_through_rotation_endpoints_through_the_policy() -> None:
    from crossregion.domain import DomainError
    from crossregion.service import Regions
    from servicekit.outbound import OutboundPolicy

    uow = FakeUnitOfWork(Repos())
    regions = Regions(uow=uow, clock=FrozenClock(T0), check_url=OutboundPolicy().refusal, our_keys={"k1": KEY})
    op = Principal("op-1", Role.OPERATOR)
    args = dict(division_code=JINCHANG, name="金昌市", endpoint="https://jinchang.example.cn/exchange",
                key_id="jc-1", public_key=KEY, matters=["licence_change"], modes=["proxy"])
    with pytest.raises(NotAllowed):
        await regions.register(Principal("w-1", Role.WINDOW_STAFF), **args)  # type: ignore[arg-type]
    for url in ("http://169.254.169.254/latest", "https://127.0.0.1/exchange", "https://10.0.0.8/x"):
        with pytest.raises(DomainError, match="outbound policy"):
            await regions.register(op, **{**args, "endpoint": url})  # type: ignore[arg-type]
    await regions.register(op, **args)  # type: ignore[arg-type]
    await regions.register(op, **{**args, "name": "金昌"})  # type: ignore[arg-type]  # an update
    with pytest.raises(DomainError, match="rotate"):
        await regions.register(op, **{**args, "public_key": "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="})  # type: ignore[arg-type]
    assert uow.repos.regions.rows[JINCHANG].name == "金昌"
