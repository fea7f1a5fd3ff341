"""Templates: zh-CN, versioned, personalisation fields checked at render time; and what
each registration event makes the applicant or the staff read."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from contracts.events import approvals as apr
from contracts.events import crossregion as xr
from contracts.events import ratings as rat
from contracts.events import registration as reg
from notifications.domain import (
    NOTIFIED_EVENTS,
    CaseFile,
    CaseUnknown,
    Template,
    TemplateCatalog,
    TemplateError,
    TemplateFieldMissing,
    default_catalog,
    notices_for,
)
from notifications.domain.templates import TEMPLATES, local_time

NOW = datetime(2026, 3, 4, 2, 0, tzinfo=UTC)  # 10:00 Beijing time, a Wednesday
DUE = datetime(2026, 3, 4, 16, 0, tzinfo=UTC)  # 24:00 Beijing time on 4 March


def test_render_fills_every_field():
    t = Template("x.hello", 1, "标题 {case_number}", "您好 {name}，办件 {case_number}。")
    r = t.render({"name": "张三", "case_number": "C-1", "unused": "ignored"})
    assert (r.template_id, r.title, r.text) == ("x.hello@1", "标题 C-1", "您好 张三，办件 C-1。")


@pytest.mark.parametrize("values", [{"case_number": "C-1"}, {"case_number": "C-1", "name": None},
                                    {"case_number": "C-1", "name": "  "}])
def test_a_missing_or_blank_field_is_an_error_never_a_blank(values):
    t = Template("x.hello", 1, "标题", "您好 {name}，办件 {case_number}。")
    with pytest.raises(TemplateFieldMissing) as err:
        t.render(values)
    assert err.value.missing == ["name"] and err.value.template_id == "x.hello@1"


def test_every_missing_field_is_named_at_once():
    with pytest.raises(TemplateFieldMissing) as err:
        Template("x.hello", 1, "{a}", "{b}{c}").render({"b": "1"})
    assert err.value.missing == ["a", "c"]


@pytest.mark.parametrize("body", ["{name.attr}", "{items[0]}", "{name!r}", "{n:>5}"])
def test_only_plain_identifier_fields_are_allowed(body):
    with pytest.raises(TemplateError):
        Template("x.bad", 1, "t", body)


def test_catalog_renders_the_latest_version_unless_pinned():
    v1 = Template("x.greet", 1, "t", "旧版 {name}")
    v2 = Template("x.greet", 2, "t", "新版 {name}")
    assert TemplateCatalog([v1, v2]).render("x.greet", {"name": "李四"}).text == "新版 李四"
    pinned = TemplateCatalog([v1, v2], pinned={"x.greet": 1})
    assert pinned.render("x.greet", {"name": "李四"}).template_id == "x.greet@1"
    assert pinned.render("x.greet", {"name": "李四"}, version=2).text == "新版 李四"


def test_catalog_rejects_republishing_a_version_and_unknown_pins():
    with pytest.raises(TemplateError, match="twice"):
        TemplateCatalog([Template("x.a", 1, "t", "a"), Template("x.a", 1, "t", "b")])
    with pytest.raises(TemplateError, match="no such template"):
        TemplateCatalog([Template("x.a", 1, "t", "a")], pinned={"x.a": 3})
    with pytest.raises(TemplateError, match="no template"):
        TemplateCatalog([]).get("x.none")


def test_published_templates_are_chinese_and_render_with_their_own_fields():
    catalog = default_catalog()
    for t in TEMPLATES:
        rendered = catalog.render(t.key, {f: f"<{f}>" for f in t.fields}, version=t.version)
        assert all(f"<{f}>" in rendered.title + rendered.text for f in t.fields)
        assert any("\u4e00" <= ch <= "\u9fff" for ch in rendered.text), f"{t.id} is not zh-CN"


def test_deadlines_read_as_beijing_time_with_24_00_for_the_end_of_a_day():
    assert local_time(DUE) == "2026年3月4日 24:00"
    assert local_time(NOW) == "2026年3月4日 10:00"


def _env(cls, **kw):
    return cls(source="/tests", subject="C-9", case_number="C-9", time=NOW, **kw)


def sample_events() -> list:
    reasons = [reg.FieldReason(field="tax.taxpayer_type", reason="纳税人类型与经营范围不符")]
    return [
        _env(reg.ApplicationSubmittedV1, application_id="C-9", company_name="兰州一窗科技有限公司", applicant_id="u-1",
             applicant_phone="13912345678", channel="web"),
        _env(reg.ApplicationIncompleteV1, applicant_id="u-1", missing=reasons, staff_id="w-1"),
        _env(reg.ApplicationAcceptedV1, applicant_id="u-1", company_name="兰州一窗科技有限公司", kind="establishment",
             channel="web", accepted_at=NOW, due_at=DUE, staff_id="w-1"),
        _env(reg.StepRequestedV1, step="seal", department="public_security", attempt=2, due_at=DUE, form={}),
        _env(reg.StepApprovedV1, step="licence", department="market_supervision"),
        _env(reg.StepReturnedV1, step="tax", department="tax", applicant_id="u-1", reasons=reasons),
        _env(reg.LicenceIssuedV1, company_name="兰州一窗科技有限公司", unified_social_credit_code="91620100MA74XXXX1X",
             applicant_id="u-1", kind="establishment", issued_at=NOW),
        _env(reg.CaseCompletedV1, applicant_id="u-1", company_name="兰州一窗科技有限公司", kind="establishment",
             unified_social_credit_code="91620100MA74XXXX1X", accepted_at=NOW, completed_at=NOW,
             within_time_limit=True, results={}),
        _env(reg.CaseRejectedV1, applicant_id="u-1", step="licence", department="market_supervision",
             reason="名称与已登记企业相同"),
        _env(reg.DeadlineWarningV1, due_at=DUE, pending_steps=["seal", "tax"], helper_id="h-7"),
        _env(reg.CaseOverdueV1, due_at=DUE, pending_steps=["tax"]),
        # construction approvals: a returned item, a completed stage, the completed project (keyed by its code)
        _env(apr.ItemReturnedV1, applicant_id="u-1", project_code="2026-620102-47-01-000123",
             stage="initiation_land_use", catalogue_version="2026.1", item="project_approval", item_name="企业投资项目备案",
             departments=["development_reform"], attempt=1,
             reasons=[apr.FieldReason(field="form.construction_scale", reason="写明栋数")]),
        _env(apr.StageCompletedV1, applicant_id="u-1", project_code="2026-620102-47-01-000123", project_name="兰州新区综合体",
             stage="construction_permit", catalogue_version="2026.1", channel="web", accepted_at=NOW, completed_at=NOW,
             within_time_limit=True, same_day=True,
             documents=[apr.IssuedDocument(item="construction_permit", kind="construction_permit",
                                           number="SG-C-9-01", department="housing_construction")]),
        _env(apr.ProjectCompletedV1, applicant_id="u-1", project_code="C-9", project_name="兰州新区综合体",
             completed_at=NOW, documents=[]),
        _env(xr.CrossCaseOpenedV1, applicant_id="u-1", applicant_phone="13912345678", matter="licence_change",
             mode="proxy", direction="outbound", origin_region="620600", handling_regions=["620300"],
             region_names="金昌市"),
        _env(xr.CrossCaseProgressedV1, applicant_id="u-1", matter="licence_change", status="accepted",
             region="620300", region_name="金昌市", detail="已受理，办件号 BG1"),
        _env(xr.CrossRegionCaseCompletedV1, applicant_id="u-1", matter="licence_change", mode="proxy",
             origin_region="620600", handling_regions=["620300"], completed_at=NOW, within_time_limit=True,
             deliver_at="origin"),
    ]


def rating_events() -> list:
    """The ratings service's events that reach people (好差评)."""
    return [
        _env(rat.RatingInvitedV1, applicant_id="u-1", matter="establishment", expires_at=DUE,
             rating_url="http://127.0.0.1:8003/rate?token=a.b.c"),
        _env(rat.LedgerEntryOpenedV1, entry_id="CP1", kind="bad_rating", owner_id="o-1", callback_due_at=DUE),
        _env(rat.RectificationFeedbackGivenV1, entry_id="CP1", applicant_id="u-1", feedback="已增设引导员",
             within_time_limit=True),
        _env(rat.ExplanationGivenV1, entry_id="CP1", applicant_id="u-1", explanation="依规定不予办理"),
        _env(rat.RectificationDueWarningV1, entry_id="CP1", owner_id="o-1", due_at=DUE),
        _env(rat.RectificationOverdueV1, entry_id="CP1", owner_id="o-1", due_at=DUE),
        _env(rat.RequestSubmittedV1, kind="consultation", person_id="u-1", department="tax", due_at=DUE),
        _env(rat.RequestRepliedV1, kind="complaint", person_id="u-1", department="tax", reply="已答复",
             within_time_limit=True),
    ]


def test_every_consumed_registration_event_has_a_plan():
    card_alarm = _env(rat.CardDayMismatchV1, day="2026-03-04", window_id="w1", issued=6, used=3, returned=1, void=1,
                      missing=["26110000235"])
    assert {type(e) for e in sample_events() + rating_events() + [card_alarm]} == set(NOTIFIED_EVENTS)
    [notice] = notices_for(card_alarm, CaseFile("2026-03"))
    assert "26110000235" in default_catalog().render(notice.template, notice.values).text


@pytest.mark.parametrize("event", rating_events(), ids=lambda e: type(e).__name__)
def test_each_rating_event_reaches_its_person_with_the_case_number(event):
    notices = notices_for(event, CaseFile("C-9", applicant_id="u-1"))
    assert notices and all("C-9" in default_catalog().render(n.template, n.values).text for n in notices)
    if isinstance(event, rat.RatingInvitedV1):
        assert notices[0].target.key == "u-1" and "token=a.b.c" in default_catalog().render(
            notices[0].template, notices[0].values).text


@pytest.mark.parametrize("event", sample_events(), ids=lambda e: type(e).__name__)
def test_each_event_renders_for_its_recipients_with_the_case_number(event):
    case = CaseFile("C-9", applicant_id="u-1", company_name="兰州一窗科技有限公司", helper_id="h-3")
    notices = notices_for(event, case)
    assert notices, f"{type(event).__name__} notifies nobody"
    for n in notices:
        rendered = default_catalog().render(n.template, n.values)
        assert "C-9" in rendered.text


def test_who_hears_what():
    events = {type(e): e for e in sample_events()}
    case = CaseFile("C-9", applicant_id="u-1", helper_id="h-3")

    def targets(cls):
        return [(n.template, n.target.kind, n.target.key) for n in notices_for(events[cls], case)]

    assert targets(reg.StepRequestedV1) == [("staff.step_to_review", "reviewers", "public_security")]
    assert targets(reg.StepApprovedV1) == [("registration.step_approved", "person", "u-1")]  # from the case file
    # the event's helper wins over the one the case file knew
    assert targets(reg.DeadlineWarningV1) == [("staff.deadline_warning", "person", "h-7"),
                                              ("staff.deadline_warning", "supervisors", "supervisors")]
    assert targets(reg.CaseOverdueV1) == [("staff.case_overdue", "person", "h-3"),
                                          ("staff.case_overdue", "supervisors", "supervisors")]
    [ret] = notices_for(events[reg.StepReturnedV1], case)
    returned = default_catalog().render(ret.template, ret.values)
    assert "纳税人类型与经营范围不符" in returned.text and returned.urgent
    completed = notices_for(events[reg.CaseCompletedV1], case)[0]
    assert "评价" in default_catalog().render(completed.template, completed.values).text  # rating invitation


def test_an_event_needing_an_unknown_applicant_is_retryable_not_lost():
    approved = next(e for e in sample_events() if isinstance(e, reg.StepApprovedV1))
    with pytest.raises(CaseUnknown):
        notices_for(approved, CaseFile("C-9"))


def test_an_approved_step_naming_its_applicant_needs_no_earlier_event():
    approved = next(e for e in sample_events() if isinstance(e, reg.StepApprovedV1))
    [notice] = notices_for(approved.model_copy(update={"applicant_id": "u-5"}), CaseFile("C-9"))
    assert notice.target.kind == "person" and notice.target.key == "u-5"


def test_the_case_file_learns_from_events():
    case = CaseFile("C-9")
    submitted, _, accepted, *_ = sample_events()
    assert case.learn(submitted, NOW) and case.applicant_id == "u-1" and case.company_name == "兰州一窗科技有限公司"
    assert not case.learn(accepted, NOW)  # nothing new
    warning = next(e for e in sample_events() if isinstance(e, reg.DeadlineWarningV1))
    assert case.learn(warning, NOW) and case.helper_id == "h-7"
