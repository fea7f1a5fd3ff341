"""Approvals' use cases over in-memory repositories: who may do what, materials by hash,
stages in order, and a catalogue change (a data file) taking effect for new stages only."""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from approvals.config import load_catalogue
from approvals.domain import DomainError, NotFound, NotYourDepartment, Project, StageCase, StageOutOfOrder, StageStatus
from approvals.domain.forms import ProjectForm
from approvals.service import Approvals
from contracts.events.approvals import StageCompletedV1
from servicekit.clock import FrozenClock
from servicekit.principal import Principal, Role
from servicekit.workdays import WorkdayCalendar
from tests.support.approvals import DEFAULT_CATALOGUE, MATERIALS, STAGE_FORMS, material_bytes, project_form
from tests.support.fakes import FakeTimers, FakeUnitOfWork

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
APPLICANT, STAFF = Principal("u-1", Role.APPLICANT), Principal("w-1", Role.WINDOW_STAFF)


def _stored(x):
    c = copy.deepcopy(x)
    c._events = []
    return c


@dataclass
class Projects:
    rows: dict[str, Project] = field(default_factory=dict)

    async def add(self, p):
        if p.code in self.rows:
            from approvals.domain import AlreadyExists
            raise AlreadyExists("exists")
        self.rows[p.code] = _stored(p)

    async def get(self, code):
        if code not in self.rows:
            raise NotFound(code)
        return _stored(self.rows[code])

    async def save(self, p):
        self.rows[p.code] = _stored(p)


@dataclass
class Stages:
    rows: dict[str, StageCase] = field(default_factory=dict)

    async def add(self, s):
        self.rows[s.case_number] = _stored(s)

    async def get(self, n):
        if n not in self.rows:
            raise NotFound(n)
        return _stored(self.rows[n])

    async def get_many(self, ns):
        return {n: _stored(self.rows[n]) for n in ns if n in self.rows}

    async def save(self, s):
        self.rows[s.case_number] = _stored(s)

    async def save_many(self, ss):
        for s in ss:
            await self.save(s)

    async def of_project(self, code):
        return [_stored(s) for s in self.rows.values() if s.project_code == code]

    async def open_due_before(self, before, limit):
        return []

    async def statistics(self):
        return []


@dataclass
class Blobs:
    rows: dict[str, bytes] = field(default_factory=dict)

    async def put(self, sha, data):
        new = sha not in self.rows
        self.rows[sha] = data
        return new


@dataclass
class Repos:
    projects: Projects = field(default_factory=Projects)
    stages: Stages = field(default_factory=Stages)
    blobs: Blobs = field(default_factory=Blobs)
    timers: FakeTimers = field(default_factory=FakeTimers)


def approvals(uow, path=DEFAULT_CATALOGUE) -> Approvals:
    return Approvals(uow=uow, catalogue=load_catalogue(path), calendar=WorkdayCalendar(), clock=FrozenClock(NOW))


@pytest.fixture
def uow():
    return FakeUnitOfWork(Repos())


async def registered(uc: Approvals, code: str = "2026-620102-47-01-000123") -> str:
    await uc.register_project(APPLICANT, ProjectForm.model_validate(project_form(code)))
    for name in MATERIALS:
        data = material_bytes(name)
        await uc.upload_material(APPLICANT, code, name=name, data=data, sha256=hashlib.sha256(data).hexdigest())
    return code


async def through(uc: Approvals, code: str, stage: str) -> StageCase:
    case = await uc.declare_stage(APPLICANT, code, stage=stage, form={k: v for k, v in STAGE_FORMS[stage].items()
                                                                    if k not in ("water_demand", "power_demand")})
    return await uc.check_at_window(STAFF, case.case_number)


async def approve_all(uc: Approvals, case: StageCase) -> StageCase:
    while case.status is StageStatus.ACCEPTED:
        for item in case.items.values():
            for dept, review in item.reviews.items():
                if review.decision is None:
                    case = await uc.decide(Principal("r", Role.REVIEWER, department=dept), case.case_number, item.code,
                                           decision="approved")
    return case


async def test_a_material_whose_bytes_do_not_match_its_hash_is_refused_naming_the_field(uow):
    uc = approvals(uow)
    code = await registered(uc)
    with pytest.raises(DomainError) as err:
        await uc.upload_material(APPLICANT, code, name="site_plan", data=b"other bytes", sha256="0" * 64)
    assert err.value.errors[0]["field"] == "sha256"


async def test_the_same_material_uploaded_twice_is_stored_once(uow):
    uc = approvals(uow)
    code = await registered(uc)
    data = material_bytes("site_plan")
    project = await uc.upload_material(APPLICANT, code, name="site_plan", data=data, sha256=hashlib.sha256(data).hexdigest())
    assert project.materials["site_plan"].uploads == 2 and len(uow.repos.blobs.rows) == len(MATERIALS)


async def test_a_stage_out_of_order_is_refused_naming_the_stage(uow):
    uc = approvals(uow)
    code = await registered(uc)
    with pytest.raises(StageOutOfOrder) as err:
        await uc.declare_stage(APPLICANT, code, stage="construction_permit", form={})
    assert err.value.errors == [{"field": "stage", "message": "stage construction_permit needs stage "
                                 "engineering_construction completed first"}]


async def test_window_staff_decide_only_items_authorised_to_the_hall_and_reviewers_only_their_own(uow):
    uc = approvals(uow)
    code = await registered(uc)
    case = await through(uc, code, "initiation_land_use")
    case = await uc.decide(STAFF, case.case_number, "project_approval", decision="approved")  # 集中授权
    assert case.items["project_approval"].status.value == "approved"
    with pytest.raises(NotYourDepartment):
        await uc.decide(Principal("r", Role.REVIEWER, department="fire_review"), case.case_number, "site_selection",
                        decision="approved")


async def test_a_catalogue_change_takes_effect_for_new_stages_only(uow, tmp_path):
    uc = approvals(uow)
    a, b = await registered(uc, "2026-620102-47-01-000001"), await registered(uc, "2026-620102-47-01-000002")
    for code in (a, b):
        await approve_all(uc, await through(uc, code, "initiation_land_use"))
    running = await through(uc, a, "engineering_construction")  # under 2026.1
    # The catalogue file changes (no code change): a new stage-2 item, a new version; the service restarts.
    text = DEFAULT_CATALOGUE.read_text(encoding="utf-8").replace('version = "2026.1"', 'version = "2026.2"')
    text += ('\n[[items]]\ncode = "traffic_impact_review"\nname = "交通影响评价审查"\nstage = "engineering_construction"\n'
             'departments = ["transport"]\nmaterials = ["site_plan"]\ndocument = "traffic_opinion"\n'
             'document_prefix = "JTPJ"\n')
    (tmp_path / "catalogue.toml").write_text(text, encoding="utf-8")
    uc2 = approvals(uow, tmp_path / "catalogue.toml")
    fresh = await through(uc2, b, "engineering_construction")
    assert "traffic_impact_review" in fresh.items and fresh.catalogue_version == "2026.2"
    old = await approve_all(uc2, await uc2.get_stage(STAFF, running.case_number))
    assert old.status is StageStatus.COMPLETED and "traffic_impact_review" not in old.items
    done = {e.case_number: e for e in uow.emitted if isinstance(e, StageCompletedV1)}
    assert done[running.case_number].catalogue_version == "2026.1"
    assert all(e.catalogue_version for e in uow.emitted if hasattr(e, "catalogue_version"))


def test_a_catalogue_file_with_a_cycle_or_an_unknown_department_stops_the_start(tmp_path):
    from approvals.domain import CatalogueError

    text = DEFAULT_CATALOGUE.read_text(encoding="utf-8").replace('lead = "development_reform"', 'lead = "magic"')
    (tmp_path / "bad.toml").write_text(text, encoding="utf-8")
    with pytest.raises(CatalogueError, match="unknown department 'magic'"):
        load_catalogue(tmp_path / "bad.toml")
