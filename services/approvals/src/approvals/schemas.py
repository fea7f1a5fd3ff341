"""HTTP DTOs; the project form lives in the domain (one definition)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Discriminator, Field, StrictBool, StrictInt, Tag, TypeAdapter, WithJsonSchema

from approvals.domain import Project, ProjectForm, StageCase
from contracts.events.approvals import Stage
from contracts.vocabulary import PHONE_PATTERN, Channel, Decision
from servicekit.text import Key, Line, Paragraph, RequestModel

MAX_ITEMS = 50
FieldPath = Annotated[str, Line(max_length=200)]
Reason = Annotated[str, Paragraph(max_length=2000)]
FormText = Annotated[str, Line(max_length=5000)]


def _json_type(value: Any) -> str | None:
    return {bool: "bool", int: "int", float: "float", str: "str"}.get(type(value))


# A form value: the JSON type chooses the branch, so a refusal names that branch's rule only.
Scalar = Annotated[Annotated[StrictBool, Tag("bool")] | Annotated[StrictInt, Tag("int")] | Annotated[float, Tag("float")]
                   | Annotated[FormText, Tag("str")], Discriminator(_json_type),
                   WithJsonSchema({"anyOf": [{"type": "boolean"}, {"type": "number"},
                                             TypeAdapter(FormText).json_schema()]})]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-fA-F]{64}$", description="sha256 of the bytes, hex.")]
Utility = Literal["water", "power", "gas", "heating", "network"]
MAX_MATERIAL_BASE64 = 240_000  # under the kit's 256 KiB body limit


class ProjectIn(RequestModel):
    form: ProjectForm
    applicant_id: Key | None = Field(default=None, description="Window staff only: whom they serve.")
    applicant_phone: str | None = Field(default=None, pattern=PHONE_PATTERN)


class MaterialIn(RequestModel):
    name: Key = Field(description="The catalogue's material name, e.g. `site_plan`.")
    content_base64: str = Field(min_length=4, max_length=MAX_MATERIAL_BASE64, pattern=r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})$",
                                description="The document's bytes, base64.")
    sha256: Sha256


class StageIn(RequestModel):
    stage: Stage
    form: dict[Key, Scalar] = Field(default_factory=dict, max_length=100,
                                    description="The stage's merged form: field → value (fields given before need not be repeated).")
    utilities: list[Utility] = Field(default_factory=list, max_length=5, description="Hookups asked alongside the stage.")
    channel: Channel = "web"


class SupplementIn(RequestModel):
    form: dict[Key, Scalar] = Field(default_factory=dict, max_length=100)


class FieldReasonIn(RequestModel):
    field: FieldPath = Field(description="`form.<field>` or `materials.<material>`.")
    reason: Reason


class DecisionIn(RequestModel):
    decision: Decision
    attempt: int | None = Field(default=None, ge=1, le=1000)
    reasons: list[FieldReasonIn] = Field(default_factory=list, max_length=MAX_ITEMS)
    reason: Reason | None = None
    result: dict[Key, Scalar] = Field(default_factory=dict, max_length=MAX_ITEMS)


class CorrectionIn(RequestModel):
    form: dict[Key, Scalar] = Field(default_factory=dict, max_length=MAX_ITEMS)
    materials: list[Key] = Field(default_factory=list, max_length=MAX_ITEMS,
                                 description="Materials corrected (uploaded again to the project first).")


class HelperIn(RequestModel):
    helper_id: Key


class ReviewOut(BaseModel):
    department: str
    attempt: int
    decision: str | None
    reviews: int = Field(description="How many times this department reviewed the item.")


class ItemOut(BaseModel):
    item: str
    name: str
    kind: str
    status: str
    attempt: int
    hall: bool
    blocking: bool
    due_at: datetime | None
    overdue: bool = Field(description="Passed its own time limit while departments had it.")
    reasons: list[dict[str, str]]
    reviews: list[ReviewOut]
    form: dict[str, Any] = Field(description="This item's projection of the merged form.")
    materials: dict[str, str]
    document: dict[str, str] | None


class HistoryOut(BaseModel):
    at: datetime
    action: str
    actor: str
    detail: str


class StageOut(BaseModel):
    case_number: str
    project_code: str
    stage: str
    catalogue_version: str
    status: str
    applicant_id: str
    channel: str
    accepted_at: datetime | None
    due_at: datetime | None
    closed_at: datetime | None
    same_day: bool | None
    helper_id: str | None
    overdue: bool
    missing: list[dict[str, str]]
    form: dict[str, Any]
    materials: dict[str, str]
    items: list[ItemOut]
    documents: list[dict[str, str]]
    history: list[HistoryOut]

    @classmethod
    def of(cls, s: StageCase) -> StageOut:
        return cls(
            case_number=s.case_number, project_code=s.project_code, stage=s.stage, catalogue_version=s.catalogue_version,
            status=s.status.value, applicant_id=s.applicant_id, channel=s.channel, accepted_at=s.accepted_at,
            due_at=s.due_at, closed_at=s.closed_at, same_day=s.same_day, helper_id=s.helper_id, overdue=s.overdue,
            missing=s.missing, form=s.form, materials=s.materials, documents=s.documents,
            items=[ItemOut(item=i.code, name=i.definition.name, kind=i.definition.kind, status=i.status.value,
                           attempt=i.attempt, hall=i.definition.hall, blocking=i.definition.blocking, due_at=i.due_at,
                           overdue=i.overdue,
                           reasons=i.reasons, document=i.document,
                           form={f: s.form[f] for f in i.definition.fields if f in s.form},
                           materials={m: s.materials[m] for m in i.definition.materials if m in s.materials},
                           reviews=[ReviewOut(department=d, attempt=r.attempt, decision=r.decision, reviews=r.count)
                                    for d, r in i.reviews.items()]) for i in s.items.values()],
            history=[HistoryOut(at=h.at, action=h.action, actor=h.actor, detail=h.detail) for h in s.history])


class MaterialOut(BaseModel):
    name: str
    sha256: str
    size: int
    uploads: int = Field(description="How often these bytes were sent (they are stored once).")
    uploaded_at: datetime


class ProjectOut(BaseModel):
    project_code: str
    name: str
    project_type: str
    builder_name: str
    applicant_id: str
    registered_at: datetime
    completed_at: datetime | None
    stages: dict[str, dict[str, str]]
    materials: list[MaterialOut]
    documents: list[dict[str, str]]

    @classmethod
    def of(cls, p: Project) -> ProjectOut:
        return cls(project_code=p.code, name=p.form.name, project_type=p.form.project_type,
                   builder_name=p.form.builder.name, applicant_id=p.applicant_id, registered_at=p.registered_at,
                   completed_at=p.completed_at,
                   stages={k: {"case_number": v.case_number, "status": v.status} for k, v in p.stages.items()},
                   materials=[MaterialOut(name=k, sha256=v.sha256, size=v.size, uploads=v.uploads,
                                          uploaded_at=v.uploaded_at) for k, v in p.materials.items()],
                   documents=p.documents)


class TimelineEntry(BaseModel):
    at: datetime
    case_number: str | None = Field(description="The stage's case number (None: the project itself).")
    stage: str | None
    action: str
    actor: str
    detail: str


class StageStatistics(BaseModel):
    stage: str
    completed: int
    same_day: int
    same_day_share: float | None = Field(description="Share of completed stages completed the working day they "
                                         "were accepted (当日办结率); None before any completed.")
