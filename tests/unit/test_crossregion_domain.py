"""Cross-region domain: the partner registry (division codes, key rotation, agreements), the
three modes, joint completion, the custody trail, status updates in order. Pure."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossregion.domain import CrossCase, DomainError, InvalidState, NotAgreed, PartnerRegion, new_reference
from crossregion.domain import events as facts
from crossregion.domain.delivery import Backoff, Outgoing

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
KEY_A, KEY_B, KEY_C = (base64.b64encode(bytes([n]) * 32).decode() for n in (1, 2, 3))
JINCHANG, WUWEI, LANZHOU = "620300", "620600", "620100"


def region(code: str = JINCHANG, **kw) -> PartnerRegion:
    args = dict(division_code=code, name="金昌市", endpoint="https://jinchang.example.cn/exchange", key_id="jc-1",
                public_key=KEY_A, matters=["licence_change"], modes=["proxy", "joint"], our_key_id="", now=T0)
    return PartnerRegion.register(**{**args, **kw})


def outbound(mode: str = "proxy", handling: dict[str, str] | None = None, deliver_at: str = "origin") -> CrossCase:
    return CrossCase.take(reference=new_reference(WUWEI, T0, "0a1b2c3d"), here=WUWEI, mode=mode,
                          matter="licence_change", handling=handling or {JINCHANG: "金昌市"},
                          applicant_id="u-1", applicant_phone="13912345678", form={"company_name": "x"},
                          deliver_at=deliver_at, staff_id="w-1", now=T0)  # type: ignore[arg-type]


def inbound(deliver_at: str = "origin") -> CrossCase:
    return CrossCase.receive(reference=new_reference(WUWEI, T0, "0a1b2c3d"), here=JINCHANG, here_name="金昌市",
                             origin_region=WUWEI, origin_name="武威市", mode="proxy", matter="licence_change",
                             applicant_id="u-1", applicant_phone=None, form={}, deliver_at=deliver_at,  # type: ignore[arg-type]
                             now=T0)


# -- the registry --------------------------------------------------------------------------------
@pytest.mark.parametrize("code", ["999999", "620399", "62030", "abcdef"])
def test_a_region_needs_a_real_division_code(code):
    with pytest.raises(DomainError) as err:
        region(code)
    assert err.value.errors and err.value.errors[0]["field"] == "division_code"


def test_a_region_needs_a_32_byte_ed25519_key():
    with pytest.raises(DomainError, match="32 bytes"):
        region(public_key=base64.b64encode(b"x" * 31).decode())


def test_rotation_keeps_the_previous_key_valid_during_the_overlap_only():
    r = region()
    until = T0 + timedelta(days=7)
    assert r.rotate(key_id="jc-2", public_key=KEY_B, overlap_until=until, now=T0)
    assert {k.key_id for k in r.valid_keys(T0 + timedelta(days=1))} == {"jc-1", "jc-2"}
    assert r.key("jc-1", until - timedelta(seconds=1)) is not None
    assert r.key("jc-1", until) is None and r.key("jc-2", until) is not None
    assert not r.rotate(key_id="jc-2", public_key=KEY_B, overlap_until=until, now=T0)  # a retry


def test_never_more_than_two_keys_are_valid():
    r = region()
    r.rotate(key_id="jc-2", public_key=KEY_B, overlap_until=T0 + timedelta(days=7), now=T0)
    r.rotate(key_id="jc-3", public_key=KEY_C, overlap_until=T0 + timedelta(days=7), now=T0 + timedelta(hours=1))
    assert [k.key_id for k in r.valid_keys(T0 + timedelta(hours=1))] == ["jc-2", "jc-3"]


def test_a_key_id_is_not_reused_for_another_key():
    with pytest.raises(DomainError, match="taken"):
        region().rotate(key_id="jc-1", public_key=KEY_B, overlap_until=T0 + timedelta(days=1), now=T0)


def test_only_agreed_matters_and_modes():
    r = region()
    r.check_agreed("licence_change", "proxy")
    with pytest.raises(NotAgreed):
        r.check_agreed("company_establishment", "proxy")
    with pytest.raises(NotAgreed):
        r.check_agreed("licence_change", "online")


# -- the modes ----------------------------------------------------------------------------------
def test_proxy_mode_goes_to_one_region_joint_to_several():
    with pytest.raises(DomainError):
        outbound("proxy", {JINCHANG: "金昌市", LANZHOU: "兰州市"})
    with pytest.raises(DomainError):
        outbound("joint", {JINCHANG: "金昌市"})
    with pytest.raises(DomainError):
        CrossCase.take(reference="x", here=WUWEI, mode="proxy", matter="licence_change", handling={WUWEI: "武威市"},
                       applicant_id="u", applicant_phone=None, form={}, deliver_at="origin", staff_id="w", now=T0)


def test_proxy_case_follows_the_handling_region_then_the_result_is_handed_out_here():
    case = outbound()
    opened = case.pull_events()
    assert [type(e) for e in opened] == [facts.CrossCaseOpened]
    assert case.progress(region=JINCHANG, seq=1, status="accepted", at=T0, detail="已受理", remote_case_number="BG1")
    assert case.status == "accepted"
    assert case.progress(region=JINCHANG, seq=2, status="completed", at=T0 + timedelta(hours=3), detail="",
                         remote_case_number="BG1", within_time_limit=True)
    events = case.pull_events()
    done = [e for e in events if isinstance(e, facts.CaseCompleted)]
    assert len(done) == 1 and done[0].within_time_limit and done[0].staff_id == "w-1"
    assert case.status == "result_ready"
    assert case.hand_out(staff_id="w-2", now=T0 + timedelta(hours=4)) is None  # here: nothing to send
    assert [e.status for e in case.pull_events() if isinstance(e, facts.CrossCaseProgressed)] == ["handed_out"]
    case.hand_out(staff_id="w-2", now=T0 + timedelta(hours=4))  # again: nothing changes
    assert not case.pull_events()
    assert [t.action for t in case.timeline] == ["forwarded", "accepted", "completed", "result_ready", "handed_out"]


def test_an_older_or_repeated_status_update_changes_nothing():
    case = outbound()
    case.progress(region=JINCHANG, seq=2, status="licence_issued", at=T0, detail="", remote_case_number="BG1")
    assert not case.progress(region=JINCHANG, seq=1, status="accepted", at=T0, detail="", remote_case_number="BG1")
    assert not case.progress(region=JINCHANG, seq=2, status="licence_issued", at=T0, detail="", remote_case_number="BG1")
    assert case.status == "licence_issued"


def test_a_joint_case_completes_when_every_region_s_part_is_done():
    case = outbound("joint", {JINCHANG: "金昌市", LANZHOU: "兰州市"})
    case.pull_events()
    case.progress(region=JINCHANG, seq=1, status="completed", at=T0, detail="", remote_case_number="BG1")
    assert case.status != "completed" and case.status != "result_ready"
    assert not [e for e in case.pull_events() if isinstance(e, facts.CaseCompleted)]
    case.progress(region=LANZHOU, seq=1, status="completed", at=T0 + timedelta(hours=1), detail="",
                  remote_case_number="BG2", within_time_limit=False)
    [done] = [e for e in case.pull_events() if isinstance(e, facts.CaseCompleted)]
    assert done.handling_regions == [LANZHOU, JINCHANG] or done.handling_regions == sorted([JINCHANG, LANZHOU])
    assert done.completed_at == T0 + timedelta(hours=1) and not done.within_time_limit
    assert case.status == "result_ready"


def test_an_update_from_a_region_without_a_part_is_refused():
    with pytest.raises(DomainError):
        outbound().progress(region=LANZHOU, seq=1, status="accepted", at=T0, detail="", remote_case_number=None)


def test_an_inbound_case_is_forwarded_to_registration_and_mirrors_its_statuses():
    case = inbound()
    _opened, forwarded = case.pull_events()
    assert isinstance(forwarded, facts.CaseForwarded) and forwarded.origin_region == WUWEI
    assert case.mirror(status="accepted", at=T0, detail="已受理", case_number="BG1") == 1
    assert case.mirror(status="accepted", at=T0, detail="已受理", case_number="BG1") is None  # again
    assert case.mirror(status="completed", at=T0, detail="", case_number="BG1") == 2
    # the applicant is served at the origin: the completion event is published there, not here
    assert not [e for e in case.pull_events() if isinstance(e, facts.CaseCompleted)]
    assert case.status == "completed"


def test_an_inbound_case_collected_here_waits_at_our_window_and_the_origin_hears_it_was_handed_out():
    case = inbound(deliver_at="handling")
    assert case.mirror(status="completed", at=T0, detail="", case_number="BG1") == 1
    assert case.status == "result_ready"
    assert case.hand_out(staff_id="w-a", now=T0) == 2 and case.status == "handed_out"
    origin = outbound(deliver_at="handling")
    origin.progress(region=JINCHANG, seq=1, status="completed", at=T0, detail="", remote_case_number="BG1")
    assert origin.status == "completed"  # collected at the handling region: nothing to hand out here
    assert origin.progress(region=JINCHANG, seq=2, status="handed_out", at=T0, detail="结果已在办理地领取",
                           remote_case_number="BG1")
    assert origin.timeline[-1].action == "handed_out"


def test_a_forwarded_reference_must_be_the_origin_s():
    with pytest.raises(DomainError, match="reference"):
        CrossCase.receive(reference=new_reference(LANZHOU, T0, "0a1b2c3d"), here=JINCHANG, here_name="金昌市",
                          origin_region=WUWEI, origin_name="武威市", mode="proxy", matter="licence_change",
                          applicant_id="u-1", applicant_phone=None, form={}, deliver_at="origin", now=T0)


def test_an_online_case_is_handled_here_and_completes_here():
    case = CrossCase.receive(reference=new_reference(JINCHANG, T0, "0a1b2c3d"), here=JINCHANG, here_name="金昌市",
                             origin_region=JINCHANG, origin_name="金昌市", mode="online", matter="licence_change",
                             applicant_id="u-9", applicant_phone=None, form={}, deliver_at="handling", now=T0)
    case.pull_events()
    assert case.mirror(status="completed", at=T0, detail="", case_number="BG1") is None  # nothing to send back
    assert [type(e) for e in case.pull_events()] == [facts.CrossCaseProgressed, facts.CaseCompleted,
                                                     facts.CrossCaseProgressed]


# -- custody of physical materials ----------------------------------------------------------------
def test_materials_are_sent_received_and_returned_in_order_in_the_timeline():
    case = outbound()
    assert case.record_custody(action="sent", waybill="EMS123", carrier="EMS", actor="w-1", region=WUWEI, now=T0)
    with pytest.raises(InvalidState):
        case.record_custody(action="returned", waybill="EMS123", carrier="EMS", actor="w-1", region=WUWEI, now=T0)
    assert case.record_custody(action="received", waybill="EMS123", carrier="EMS", actor=JINCHANG, region=JINCHANG,
                               now=T0 + timedelta(days=1))
    assert not case.record_custody(action="received", waybill="EMS123", carrier="EMS", actor=JINCHANG,
                                   region=JINCHANG, now=T0 + timedelta(days=1))
    assert case.record_custody(action="returned", waybill="EMS123", carrier="EMS", actor=JINCHANG, region=JINCHANG,
                               now=T0 + timedelta(days=2))
    assert [t.action for t in case.timeline if t.action.startswith("materials")] == [
        "materials_sent", "materials_received", "materials_returned"]
    assert case.custody[0].sent_to == JINCHANG and case.custody[0].status == "returned"
    with pytest.raises(InvalidState):
        case.record_custody(action="received", waybill="SF999", carrier="SF", actor="x", region=JINCHANG, now=T0)


# -- delivery ------------------------------------------------------------------------------------
def test_backoff_grows_is_capped_and_never_below_half_the_step():
    b = Backoff(base_seconds=1, cap_seconds=60)
    assert b.after(1, 0.0) == timedelta(seconds=0.5) and b.after(1, 1.0) == timedelta(seconds=1)
    assert b.after(4, 0.0) == timedelta(seconds=4)
    assert b.after(20, 1.0) == timedelta(seconds=60)


def test_a_failed_delivery_is_due_again_after_the_backoff_and_counts_its_attempts():
    item = Outgoing(exchange_id="x", region=JINCHANG, reference="r", kind="case.forwarded", body="{}",
                    created_at=T0, due_at=T0)
    item.failed(T0, "connection refused", Backoff(2, 60), 0.0)
    item.failed(T0, "connection refused", Backoff(2, 60), 0.0)
    assert item.attempts == 2 and item.due_at == T0 + timedelta(seconds=2) and item.status == "pending"
    item.delivered(T0)
    assert item.status == "delivered" and item.last_error is None


def test_a_step_reported_after_the_end_is_recorded_and_sent_on_the_status_stays():
    case = inbound()
    assert case.mirror(status="completed", at=T0, detail="", case_number="BG1") == 1
    assert case.mirror(status="licence_issued", at=T0, detail="已核发", case_number="BG1") == 2
    assert case.mirror(status="licence_issued", at=T0, detail="已核发", case_number="BG1") is None
    assert case.status == "completed" and [t.action for t in case.timeline][-2:] == ["completed", "licence_issued"]
    origin = outbound()
    origin.progress(region=JINCHANG, seq=1, status="completed", at=T0, detail="", remote_case_number="BG1")
    assert origin.progress(region=JINCHANG, seq=2, status="licence_issued", at=T0, detail="已核发",
                           remote_case_number="BG1")
    assert origin.status == "result_ready" and origin.timeline[-1].action == "licence_issued"
    assert not origin.progress(region=JINCHANG, seq=2, status="licence_issued", at=T0, detail="",
                               remote_case_number="BG1")


# -- properties: any order, any duplicates ------------------------------------------------------

STEPS = ("registered", "accepted", "licence_issued", "completed")
REGIONS = {JINCHANG: "金昌市", LANZHOU: "兰州市", "620500": "天水市"}


@st.composite
def deliveries(draw):
    """Each handling region's numbered status updates, some lost, some repeated, all interleaved."""
    n = draw(st.integers(min_value=2, max_value=3))
    regions = dict(list(REGIONS.items())[:n])
    updates = []
    for code in regions:
        kept = draw(st.lists(st.sampled_from(range(len(STEPS))), unique=True, max_size=len(STEPS)))
        updates += [(code, i + 1, STEPS[i]) for i in kept] * draw(st.integers(min_value=1, max_value=2))
    return regions, draw(st.permutations(updates))


@given(deliveries())
@settings(max_examples=150, deadline=None)
def test_a_joint_case_completes_once_exactly_when_every_part_has_completed(data):
    regions, updates = data
    case = outbound("joint", regions)
    case.pull_events()
    completions = 0
    for code, seq, status in updates:
        case.progress(region=code, seq=seq, status=status, at=T0, detail="", remote_case_number=f"BG-{code}")
        completions += sum(isinstance(e, facts.CaseCompleted) for e in case.pull_events())
        if case.status == "result_ready":
            assert all(p.status == "completed" for p in case.parts.values())
    every_part_completed = all(any(c == code and s == "completed" for c, _, s in updates) for code in regions)
    assert completions == (1 if every_part_completed else 0)
    assert (case.status == "result_ready") == every_part_completed


def test_a_forwarded_case_registration_refused_is_rejected_and_the_origin_told():
    case = inbound()
    assert case.mirror(status="rejected", at=T0, detail="表单不能受理：company_name", case_number=None) == 1
    assert case.status == "rejected" and case.remote_case_number is None
    origin = outbound()
    origin.progress(region=JINCHANG, seq=1, status="rejected", at=T0, detail="表单不能受理", remote_case_number=None)
    assert origin.status == "rejected"
    assert [e.status for e in origin.pull_events() if isinstance(e, facts.CrossCaseProgressed)] == ["rejected"]
