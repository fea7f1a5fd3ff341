"""The construction project: registered once; its materials (by content hash, uploaded once
and reused by every item and stage), the form values it has given (asked once), its four
stages in order, and every document issued to it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from approvals.domain import events as facts
from approvals.domain.catalogue import STAGES
from approvals.domain.errors import DomainError, InvalidState
from approvals.domain.forms import ProjectForm
from contracts.events.approvals import IssuedDocument, Stage
from servicekit.aggregate import Aggregate


class StageOutOfOrder(DomainError):
    """A stage declared before the one before it completed (or declared twice)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, [{"field": "stage", "message": message}])


@dataclass
class MaterialRef:
    sha256: str
    size: int
    uploaded_at: datetime
    uploads: int = 1  # how often these bytes were sent for this name (stored once)


@dataclass
class StageRef:
    case_number: str
    status: str


@dataclass
class Entry:
    at: datetime
    action: str
    actor: str
    detail: str = ""


@dataclass(kw_only=True)
class Project(Aggregate):
    form: ProjectForm
    applicant_id: str
    registered_at: datetime
    applicant_phone: str | None = None
    materials: dict[str, MaterialRef] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)  # form values given in any stage
    stages: dict[str, StageRef] = field(default_factory=dict)
    documents: list[dict[str, str]] = field(default_factory=list)
    completed_at: datetime | None = None
    history: list[Entry] = field(default_factory=list)

    @property
    def code(self) -> str:
        return self.form.project_code

    @classmethod
    def register(cls, *, form: ProjectForm, applicant_id: str, now: datetime,
                 applicant_phone: str | None = None) -> Project:
        p = cls(form=form, applicant_id=applicant_id, registered_at=now, applicant_phone=applicant_phone)
        p.history.append(Entry(now, "registered", applicant_id, form.name))
        p.record(facts.ProjectRegistered(project_code=form.project_code, project_name=form.name,
                                         project_type=form.project_type, builder_name=form.builder.name,
                                         builder_uscc=form.builder.unified_social_credit_code,
                                         division_code=form.location.division_code, applicant_id=applicant_id,
                                         applicant_phone=applicant_phone))
        return p

    # -- materials (by content hash) -------------------------------------------------------
    def attach_material(self, name: str, sha256: str, size: int, now: datetime, by: str) -> bool:
        """Take a material's bytes (already checked against ``sha256``). The same bytes again
        change nothing but the count: False. New bytes for the name replace the old ones."""
        ref = self.materials.get(name)
        if ref is not None and ref.sha256 == sha256:
            ref.uploads += 1
            return False
        self.materials[name] = MaterialRef(sha256, size, now)
        self.history.append(Entry(now, "material_uploaded", by, f"{name} sha256:{sha256[:12]}"))
        return True

    def material_hashes(self) -> dict[str, str]:
        return {name: ref.sha256 for name, ref in self.materials.items()}

    # -- stages in order ------------------------------------------------------------------
    def check_can_declare(self, stage: Stage) -> None:
        if self.completed_at is not None:
            raise InvalidState(f"project {self.code} is completed")
        current = self.stages.get(stage)
        if current is not None and current.status != "rejected":
            raise StageOutOfOrder(f"stage {stage} is already declared ({current.case_number}, {current.status})")
        i = STAGES.index(stage)
        if i > 0:
            before = self.stages.get(STAGES[i - 1])
            if before is None or before.status != "completed":
                raise StageOutOfOrder(f"stage {stage} needs stage {STAGES[i - 1]} completed first")

    def stage_declared(self, stage: Stage, case_number: str, values: dict[str, Any], now: datetime, by: str) -> None:
        self.check_can_declare(stage)
        self.stages[stage] = StageRef(case_number, "declared")
        self.values.update(values)
        self.history.append(Entry(now, f"{stage}_declared", by, case_number))

    def remember_values(self, values: dict[str, Any]) -> None:
        self.values.update(values)

    def stage_changed(self, stage: Stage, status: str) -> None:
        ref = self.stages.get(stage)
        if ref is not None:
            ref.status = status

    def stage_completed(self, stage: Stage, documents: list[IssuedDocument], now: datetime) -> None:
        self.stage_changed(stage, "completed")
        self.documents += [d.model_dump() for d in documents]
        self.history.append(Entry(now, f"{stage}_completed", "system",
                                  ", ".join(d.number for d in documents) or "no documents"))
        if stage == STAGES[-1]:
            self.completed_at = now
            self.history.append(Entry(now, "completed", "system", "all four stages completed"))
            self.record(facts.ProjectCompleted(applicant_id=self.applicant_id, project_code=self.code,
                                               project_name=self.form.name, completed_at=now,
                                               documents=[IssuedDocument(**d) for d in self.documents]))

    def document_issued_late(self, document: IssuedDocument) -> None:
        """A non-blocking hookup approved after its stage completed."""
        self.documents.append(document.model_dump())
