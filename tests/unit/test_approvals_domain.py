"""The stage catalogue, the project and the stage state machine (pure domain)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest

from approvals.domain import (
    Catalogue,
    CatalogueError,
    DomainError,
    InvalidState,
    ItemStatus,
    NotYourDepartment,
    Project,
    ProjectForm,
    StageCase,
    StageOutOfOrder,
    StageStatus,
    StaleDecision,
    parse_catalogue,
)
from tests.support.approvals import STAGE_FORMS, catalogue_data, project_form

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # Tuesday 10:00 in Beijing


def catalogue() -> Catalogue:
    return parse_catalogue(catalogue_data())


def new_stage(stage: str = "initiation_land_use", *, form: dict | None = None, utilities: list[str] = (),
              cat: Catalogue | None = None, number: str = "GC1") -> StageCase:
    cat = cat or catalogue()
    sdef = cat.stage(stage)
    items = cat.items_for(stage, "housing", list(utilities))
    needed = {f for i in items for f in i.fields}
    form = {k: v for k, v in STAGE_FORMS[stage].items() if k in needed} if form is None else form
    return StageCase.declare(
        case_number=number, project_code="2026-620102-47-01-000123", project_name="兰州新区综合体项目",
        project_type="housing", stage=stage, catalogue_version=cat.version, time_limit_days=sdef.time_limit_days,
        items=items, field_defs=cat.fields,
        material_labels={k: v.label for k, v in cat.materials.items()}, applicant_id="u-1", channel="web", now=NOW,
        form=form, known={})


def all_materials(case: StageCase) -> dict[str, str]:
    return {m: f"{i:064x}" for i, m in enumerate(case.needed_materials(), start=1)}


def accept(case: StageCase, now: datetime = NOW) -> StageCase:
    case.check_at_window(staff_id="w-1", now=now, materials=all_materials(case), due_at=now + timedelta(days=5),
                         item_due={n: now + timedelta(days=n) for n in range(1, 61)})
    return case


def approve(case: StageCase, item: str, now: datetime = NOW) -> None:
    state = case.items[item]
    for dept, review in state.reviews.items():
        if review.decision is None:
            case.decide(item=item, department=dept, attempt=state.attempt, decision="approved", now=now, reviewer="r")


# -- the catalogue -------------------------------------------------------------------------------
def test_the_default_catalogue_is_valid_and_versioned():
    cat = catalogue()
    assert cat.version == "2026.1"
    assert [s.stage for s in cat.stages] == ["initiation_land_use", "engineering_construction", "construction_permit",
                                             "completion_acceptance"]
    assert {i.stage for i in cat.items} == {s.stage for s in cat.stages}


def test_a_catalogue_with_an_unknown_department_is_refused_naming_it():
    data = catalogue_data()
    data["items"][0]["departments"] = ["ministry_of_magic"]
    with pytest.raises(CatalogueError) as err:
        parse_catalogue(data)
    assert {"field": "items.0.departments", "message": "unknown department 'ministry_of_magic'"} in err.value.errors


def test_a_catalogue_with_an_unknown_item_after_or_material_is_refused():
    data = catalogue_data()
    data["items"][1]["after"] = ["no_such_item"]
    data["items"][2]["materials"] = ["unicorn_permit"]
    with pytest.raises(CatalogueError) as err:
        parse_catalogue(data)
    fields = {e["field"] for e in err.value.errors}
    assert {"items.1.after", "items.2.materials"} <= fields


def test_a_catalogue_whose_items_wait_for_each_other_in_a_cycle_is_refused():
    data = catalogue_data()
    by_code = {i["code"]: i for i in data["items"]}
    by_code["site_selection"]["after"] = ["land_use_planning_permit"]  # which waits for site_selection
    with pytest.raises(CatalogueError) as err:
        parse_catalogue(data)
    (cycle,) = [e for e in err.value.errors if e["field"] == "items.after"]
    assert "cycle" in cycle["message"] and "site_selection" in cycle["message"]


def test_a_catalogue_with_an_unknown_key_is_refused():
    data = catalogue_data()
    data["items"][0]["colour"] = "blue"
    with pytest.raises(CatalogueError) as err:
        parse_catalogue(data)
    assert any(e["field"] == "items.0.colour" for e in err.value.errors)


# -- the project -----------------------------------------------------------------------------------
def test_a_builder_with_an_invalid_credit_code_is_refused():
    form = project_form("2026-620102-47-01-000123")
    form["builder"]["unified_social_credit_code"] = "91620100MA000CT712"
    with pytest.raises(ValueError, match="unified social credit code"):
        ProjectForm.model_validate(form)


def test_stages_are_declared_in_order_only():
    project = Project.register(form=ProjectForm.model_validate(project_form("2026-620102-47-01-000123")),
                               applicant_id="u-1", now=NOW)
    with pytest.raises(StageOutOfOrder) as err:
        project.check_can_declare("engineering_construction")
    assert err.value.errors[0]["field"] == "stage"
    project.stage_declared("initiation_land_use", "GC1", {}, NOW, "u-1")
    with pytest.raises(StageOutOfOrder):
        project.stage_declared("initiation_land_use", "GC2", {}, NOW, "u-1")
    project.stage_changed("initiation_land_use", "completed")
    project.check_can_declare("engineering_construction")


def test_the_same_bytes_uploaded_again_are_stored_once():
    project = Project.register(form=ProjectForm.model_validate(project_form("2026-620102-47-01-000123")),
                               applicant_id="u-1", now=NOW)
    assert project.attach_material("site_plan", "a" * 64, 10, NOW, "u-1") is True
    assert project.attach_material("site_plan", "a" * 64, 10, NOW, "u-1") is False
    assert project.materials["site_plan"].uploads == 2 and project.material_hashes() == {"site_plan": "a" * 64}


# -- the stage ---------------------------------------------------------------------------------------
def test_everything_missing_for_the_whole_stage_is_told_at_once():
    case = new_stage(form={"land_area": 25000})
    case.check_at_window(staff_id="w-1", now=NOW, materials={"site_plan": "a" * 64}, due_at=NOW + timedelta(days=5),
                         item_due={n: NOW for n in range(1, 61)})
    assert case.status is StageStatus.INCOMPLETE
    fields = {m["field"] for m in case.missing}
    assert fields == {"form.project_summary", "form.construction_scale", "form.total_investment", "form.land_use",
                      "materials.project_proposal", "materials.land_title", "materials.land_grant_contract"}
    assert all(m["reason"].startswith("缺少") for m in case.missing)


def test_a_bad_field_value_is_refused_naming_it():
    with pytest.raises(DomainError) as err:
        new_stage(form={"land_area": "lots", "colour": "red"})
    assert {e["field"] for e in err.value.errors} == {"form.land_area", "form.colour"}


def test_items_are_requested_in_parallel_except_those_waiting_for_another():
    case = accept(new_stage())
    status = {c: i.status for c, i in case.items.items()}
    assert status == {"project_approval": ItemStatus.REQUESTED, "site_selection": ItemStatus.REQUESTED,
                      "land_use_planning_permit": ItemStatus.WAITING}
    approve(case, "site_selection")
    assert case.items["land_use_planning_permit"].status is ItemStatus.REQUESTED


def test_the_stage_completes_when_every_item_is_approved_and_numbers_each_document():
    case = accept(new_stage())
    for item in ("project_approval", "site_selection", "land_use_planning_permit"):
        assert case.status is StageStatus.ACCEPTED
        approve(case, item)
    assert case.status is StageStatus.COMPLETED and case.same_day is True
    numbers = [d["number"] for d in case.documents]
    assert len(numbers) == 3 and len(set(numbers)) == 3 and all("GC1" in n for n in numbers)
    (done,) = [e for e in case.pull_events() if type(e).__name__ == "StageCompleted"]
    assert [d.number for d in done.documents] == numbers and done.catalogue_version == "2026.1"


def test_a_department_may_not_answer_another_departments_item():
    case = accept(new_stage())
    with pytest.raises(NotYourDepartment) as err:
        case.decide(item="project_approval", department="natural_resources", attempt=1, decision="approved",
                    now=NOW, reviewer="r")
    assert err.value.errors[0]["field"] == "department"


def test_a_return_may_name_only_the_items_own_fields_and_materials():
    case = accept(new_stage())
    with pytest.raises(NotYourDepartment) as err:
        case.decide(item="project_approval", department="development_reform", attempt=1, decision="returned",
                    now=NOW, reviewer="r", reasons=[{"field": "form.land_use", "reason": "x"}])
    assert err.value.errors[0]["field"] == "reasons.0.field"


def test_a_returned_item_is_corrected_and_only_it_is_reviewed_again():
    case = accept(new_stage())
    case.decide(item="project_approval", department="development_reform", attempt=1, decision="returned", now=NOW,
                reviewer="r", reasons=[{"field": "form.construction_scale", "reason": "写明栋数和面积"}])
    approve(case, "site_selection")
    approve(case, "land_use_planning_permit")
    assert case.status is StageStatus.ACCEPTED and case.items["project_approval"].status is ItemStatus.RETURNED
    with pytest.raises(DomainError) as err:
        case.correct(item="project_approval", form={"land_use": "x"}, materials={}, now=NOW, by="u-1")
    assert {e["field"] for e in err.value.errors} == {"form.land_use", "form.construction_scale"}
    case.pull_events()
    assert case.correct(item="project_approval", form={"construction_scale": "12栋住宅，8.6万平方米"}, materials={},
                        now=NOW, by="u-1")
    requested = [e for e in case.pull_events() if type(e).__name__ == "ItemRequested"]
    assert [(e.item, e.attempt) for e in requested] == [("project_approval", 2)]
    approve(case, "project_approval")
    assert case.status is StageStatus.COMPLETED
    counts = {c: {d: r.count for d, r in i.reviews.items()} for c, i in case.items.items()}
    assert counts == {"project_approval": {"development_reform": 2}, "site_selection": {"natural_resources": 1},
                      "land_use_planning_permit": {"natural_resources": 1}}


def test_a_corrected_material_must_be_new_bytes():
    case = accept(new_stage())
    case.decide(item="site_selection", department="natural_resources", attempt=1, decision="returned", now=NOW,
                reviewer="r", reasons=[{"field": "materials.land_title", "reason": "不清晰"}])
    old = case.materials["land_title"]
    with pytest.raises(DomainError):
        case.correct(item="site_selection", form={}, materials={"land_title": old}, now=NOW, by="u-1")
    assert case.correct(item="site_selection", form={}, materials={"land_title": "f" * 64}, now=NOW, by="u-1")
    assert case.materials["land_title"] == "f" * 64


def test_a_rejection_ends_the_stage_without_documents():
    case = accept(new_stage())
    case.decide(item="project_approval", department="development_reform", attempt=1, decision="rejected", now=NOW,
                reviewer="r", reason="不符合产业政策")
    assert case.status is StageStatus.REJECTED and case.documents == []
    with pytest.raises(InvalidState):
        approve(case, "site_selection")


def test_the_same_answer_twice_has_no_second_effect_and_a_stale_one_is_refused():
    case = accept(new_stage())
    args = dict(item="project_approval", department="development_reform", attempt=1, decision="approved", now=NOW,
                reviewer="r")
    assert case.decide(**args) is True
    assert case.decide(**args) is False
    with pytest.raises(StaleDecision):
        case.decide(**{**args, "decision": "returned", "reasons": [{"field": "form.construction_scale", "reason": "x"}]})
    assert case.items["project_approval"].reviews["development_reform"].count == 1


def test_joint_acceptance_needs_every_department_to_pass_and_only_those_with_defects_inspect_again():
    case = accept(new_stage("completion_acceptance"))
    joint = case.items["joint_acceptance"]
    assert set(joint.reviews) == {"natural_resources", "fire_review", "civil_air_defence", "archives"}
    for dept in ("natural_resources", "civil_air_defence"):
        case.decide(item="joint_acceptance", department=dept, attempt=1, decision="approved", now=NOW, reviewer="r")
    case.decide(item="joint_acceptance", department="fire_review", attempt=1, decision="returned", now=NOW, reviewer="r",
                reasons=[{"field": "materials.as_built_drawings", "reason": "消防设施与图纸不符"}])
    assert joint.status is ItemStatus.REQUESTED  # archives has not inspected yet: no partial notice
    case.decide(item="joint_acceptance", department="archives", attempt=1, decision="returned", now=NOW, reviewer="r",
                reasons=[{"field": "form.completion_date", "reason": "与竣工报告不一致"}])
    assert joint.status is ItemStatus.RETURNED and len(joint.reasons) == 2
    case.pull_events()
    case.correct(item="joint_acceptance", form={"completion_date": "2028-10-08"},
                 materials={"as_built_drawings": "e" * 64}, now=NOW, by="u-1")
    asked = sorted(e.department for e in case.pull_events() if type(e).__name__ == "ItemRequested")
    assert asked == ["archives", "fire_review"]
    approve(case, "joint_acceptance")
    assert joint.status is ItemStatus.APPROVED
    assert {d: r.count for d, r in joint.reviews.items()} == {"natural_resources": 1, "civil_air_defence": 1,
                                                              "fire_review": 2, "archives": 2}
    approve(case, "completion_filing")
    assert case.status is StageStatus.COMPLETED
    kinds = [d["kind"] for d in case.documents]
    assert kinds.count("joint_acceptance_certificate") == 1


def test_utility_hookups_block_a_stage_only_where_the_catalogue_says_so():
    case = accept(new_stage("completion_acceptance", utilities=["water", "gas"]))
    assert case.items["utility_water"].definition.blocking and not case.items["utility_gas"].definition.blocking
    approve(case, "joint_acceptance")
    approve(case, "completion_filing")
    assert case.status is StageStatus.ACCEPTED  # the water hookup blocks completion acceptance
    approve(case, "utility_water")
    assert case.status is StageStatus.COMPLETED and case.items["utility_gas"].status is ItemStatus.REQUESTED
    approve(case, "utility_gas")  # answered after the stage: its document follows
    assert [d["item"] for d in case.documents][-1] == "utility_gas"


def test_a_catalogue_version_is_kept_by_a_running_stage():
    old = catalogue()
    data = copy.deepcopy(catalogue_data())
    data["version"] = "2026.2"
    data["items"].append({"code": "traffic_impact_review", "name": "交通影响评价审查", "stage": "engineering_construction",
                          "departments": ["transport"], "materials": ["site_plan"], "document": "traffic_opinion"})
    new = parse_catalogue(data)
    running = new_stage("engineering_construction", cat=old, number="GC-old")
    fresh = new_stage("engineering_construction", cat=new, number="GC-new")
    assert "traffic_impact_review" not in running.items and running.catalogue_version == "2026.1"
    assert "traffic_impact_review" in fresh.items and fresh.catalogue_version == "2026.2"


def test_warning_and_overdue_once_each():
    case = accept(new_stage())
    assert case.warn(NOW) is True and case.warn(NOW) is False
    assert case.mark_overdue(NOW) is True and case.mark_overdue(NOW) is False
    events = [type(e).__name__ for e in case.pull_events()]
    assert events.count("StageDeadlineWarning") == 1 and events.count("StageOverdue") == 1


def test_items_past_their_own_time_limit_are_overdue_once_while_departments_have_them():
    case = accept(new_stage())  # item limits: 1 day each; the stage's: 5 (see accept())
    assert case.item_deadlines() == [NOW + timedelta(days=1)]
    approve(case, "project_approval")
    case.pull_events()
    assert case.mark_items_overdue(NOW + timedelta(days=2)) == ["site_selection"]  # the approved one and the
    assert case.mark_items_overdue(NOW + timedelta(days=3)) == []                 # waiting one are not late
    (late,) = [e for e in case.pull_events() if type(e).__name__ == "ItemOverdue"]
    assert late.departments == ["natural_resources"] and late.due_at == NOW + timedelta(days=1)


def test_a_project_site_must_be_on_the_division_code_list():
    """The site's division code is checked against GB/T 2260 of any year, as registration's
    addresses and crossregion's partner regions are (one check, contracts.codes)."""
    import pytest
    from pydantic import ValidationError

    from approvals.domain.forms import Location

    assert Location(division_code="620102", detail="城关区南滨河路88号").division_code == "620102"
    with pytest.raises(ValidationError) as err:
        Location(division_code="100000", detail="城关区南滨河路88号")
    assert err.value.errors()[0]["type"] == "division_code"
