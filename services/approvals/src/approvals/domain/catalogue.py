"""The stage catalogue: data, not code (a versioned TOML file, checked when loaded).

For each stage: its lead department, its time limit in working days, the utility hookups
that block it; for each approval item (事项): its stage, department(s), the form fields and
materials it needs, whether it is authorised to the hall (集中授权), the items it waits for
(``after``), its time limit, the project types it applies to and the document it issues.

A file with an unknown key, department, field, material, item or stage, or items that wait
for each other in a cycle, is refused with every problem named (``CatalogueError.errors``)."""

from __future__ import annotations

import graphlib
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from approvals.domain.errors import DomainError
from contracts.events.approvals import ItemKind, Stage

STAGES: tuple[Stage, ...] = ("initiation_land_use", "engineering_construction", "construction_permit",
                             "completion_acceptance")
STAGE_NAMES: dict[str, str] = {"initiation_land_use": "立项用地规划许可", "engineering_construction": "工程建设许可",
                               "construction_permit": "施工许可", "completion_acceptance": "竣工验收"}
FieldType = Literal["text", "number", "integer", "date", "boolean"]


class CatalogueError(DomainError):
    """The catalogue file is not valid; ``errors`` names every problem."""

    def __init__(self, source: str, errors: list[dict[str, str]]) -> None:
        super().__init__(f"catalogue {source} is not valid: " + "; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldDef(_Strict):
    label: str = Field(min_length=1, max_length=100)
    type: FieldType = "text"
    max_length: int = Field(default=500, ge=1, le=5000)
    maximum: float | None = None


class MaterialDef(_Strict):
    label: str = Field(min_length=1, max_length=100)


class ItemDef(_Strict):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")
    name: str = Field(min_length=1, max_length=100)
    stage: Stage
    kind: ItemKind = "approval"
    departments: list[str] = Field(min_length=1, max_length=10, description="One department; several for a joint acceptance.")
    fields: list[str] = Field(default_factory=list, max_length=100)
    materials: list[str] = Field(default_factory=list, max_length=100)
    hall: bool = False  # authorised to the hall (集中授权): window staff may decide it
    after: list[str] = Field(default_factory=list, max_length=20)  # items of the same stage approved first
    time_limit_days: int = Field(default=1, ge=1, le=60)
    project_types: list[str] = Field(default_factory=list)  # empty: every type
    document: str = Field(default="", max_length=64)  # kind of document issued ("" for none)
    document_prefix: str = Field(default="", max_length=16)
    blocking: bool = True  # a utility hookup blocks its stage only where the catalogue says so


class StageDef(_Strict):
    stage: Stage
    lead: str
    time_limit_days: int = Field(ge=1, le=120)
    blocking_utilities: list[str] = Field(default_factory=list)


class UtilityDef(_Strict):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")
    name: str = Field(min_length=1, max_length=100)
    provider: str
    fields: list[str] = Field(default_factory=list)
    materials: list[str] = Field(default_factory=list)
    time_limit_days: int = Field(default=3, ge=1, le=60)


class Catalogue(_Strict):
    version: str = Field(min_length=1, max_length=32)
    departments: dict[str, str]
    project_types: dict[str, str]
    fields: dict[str, FieldDef]
    materials: dict[str, MaterialDef]
    stages: list[StageDef]
    items: list[ItemDef]
    utilities: list[UtilityDef] = Field(default_factory=list)

    # -- reading ---------------------------------------------------------------------
    def stage(self, stage: str) -> StageDef:
        return next(s for s in self.stages if s.stage == stage)

    def items_for(self, stage: str, project_type: str, utilities: Sequence[str] = ()) -> list[ItemDef]:
        """The stage's items for a project of this type, in dependency order, and the utility
        hookups asked for alongside it (blocking where the stage says so)."""
        items = [i for i in self.items if i.stage == stage and (not i.project_types or project_type in i.project_types)]
        blocking = set(self.stage(stage).blocking_utilities)
        for code in utilities:
            u = self.utility(code)
            items.append(ItemDef(code=f"utility_{u.code}", name=u.name, stage=self.stage(stage).stage, kind="utility",
                                 departments=[u.provider], fields=u.fields, materials=u.materials,
                                 time_limit_days=u.time_limit_days, blocking=u.code in blocking,
                                 document=f"{u.code}_hookup", document_prefix=u.code.upper()[:4]))
        return items

    def utility(self, code: str) -> UtilityDef:
        for u in self.utilities:
            if u.code == code:
                return u
        raise KeyError(code)

    # -- checking -------------------------------------------------------------------
    def problems(self) -> list[dict[str, str]]:
        errors: list[dict[str, str]] = []

        def bad(where: str, message: str) -> None:
            errors.append({"field": where, "message": message})

        seen_stages = [s.stage for s in self.stages]
        if sorted(seen_stages, key=STAGES.index) != list(STAGES):
            bad("stages", f"must list each of the four stages once, in order: {', '.join(STAGES)}")
        for i, s in enumerate(self.stages):
            if s.lead not in self.departments:
                bad(f"stages.{i}.lead", f"unknown department {s.lead!r}")
            for code in s.blocking_utilities:
                if code not in {x.code for x in self.utilities}:
                    bad(f"stages.{i}.blocking_utilities", f"unknown utility {code!r}")
        codes = [i.code for i in self.items]
        for i, item in enumerate(self.items):
            where = f"items.{i}"
            if codes.count(item.code) > 1:
                bad(f"{where}.code", f"item {item.code!r} is listed twice")
            for d in item.departments:
                if d not in self.departments:
                    bad(f"{where}.departments", f"unknown department {d!r}")
            if item.kind != "joint_acceptance" and len(item.departments) != 1:
                bad(f"{where}.departments", "only a joint acceptance has several departments")
            for f in item.fields:
                if f not in self.fields:
                    bad(f"{where}.fields", f"unknown field {f!r}")
            for m in item.materials:
                if m not in self.materials:
                    bad(f"{where}.materials", f"unknown material {m!r}")
            for t in item.project_types:
                if t not in self.project_types:
                    bad(f"{where}.project_types", f"unknown project type {t!r}")
            same_stage = {x.code for x in self.items if x.stage == item.stage}
            for a in item.after:
                if a not in same_stage:
                    bad(f"{where}.after", f"unknown item {a!r} (not an item of stage {item.stage})")
        for i, u in enumerate(self.utilities):
            if u.provider not in self.departments:
                bad(f"utilities.{i}.provider", f"unknown department {u.provider!r}")
            for f in u.fields:
                if f not in self.fields:
                    bad(f"utilities.{i}.fields", f"unknown field {f!r}")
            for m in u.materials:
                if m not in self.materials:
                    bad(f"utilities.{i}.materials", f"unknown material {m!r}")
        graph = {i.code: set(i.after) for i in self.items}
        try:
            tuple(graphlib.TopologicalSorter(graph).static_order())
        except graphlib.CycleError as exc:
            cycle = exc.args[1]
            bad("items.after", "items wait for each other in a cycle: " + " → ".join(cycle))
        return errors


def parse_catalogue(data: Mapping[str, Any], source: str = "catalogue") -> Catalogue:
    """A catalogue from parsed data; CatalogueError naming every problem."""
    try:
        catalogue = Catalogue.model_validate(data)
    except ValidationError as exc:
        raise CatalogueError(source, [{"field": ".".join(map(str, e["loc"])) or "catalogue", "message": e["msg"]}
                                      for e in exc.errors()]) from exc
    errors = catalogue.problems()
    if errors:
        raise CatalogueError(source, errors)
    return catalogue
