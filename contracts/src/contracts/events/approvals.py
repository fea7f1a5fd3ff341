"""Events produced by the approvals service (工程建设项目审批): construction projects in four
stages. Each stage application is a case of its own (its case number is the Kafka key);
project-level events are keyed by the project code.

The two completion events below are public: the ratings service opens a rating for each
completed stage (一事一评), and notifications tells the applicant. The approvals service adds
its other events (stage accepted, item requested/decided, ...) beside them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from contracts.envelope import Event
from contracts.vocabulary import Channel, Decision

Stage = Literal["initiation_land_use", "engineering_construction", "construction_permit", "completion_acceptance"]
"""The four stages, in order: 立项用地规划许可, 工程建设许可, 施工许可, 竣工验收."""
ItemKind = Literal["approval", "joint_acceptance", "utility"]
"""An approval item (事项) of one department, the joint completion acceptance (联合验收) of
several, or a utility hookup (水电气暖网) with its provider."""


class FieldReason(BaseModel):
    """One field or material the applicant must correct, and why."""

    field: str = Field(description="`form.<field>` or `materials.<material>` of the stage's merged form.")
    reason: str = Field(description="Why (shown to the applicant).")


class IssuedDocument(BaseModel):
    """A permit or certificate issued at the one window (窗口统一出件)."""

    item: str = Field(description="The catalogue's approval item (事项) code the document answers.")
    kind: str = Field(description="What the document is, e.g. `construction_permit` (施工许可证).")
    number: str = Field(description="The document's number as issued.")
    department: str = Field(description="The department that decided the item.")


class StageCompletedV1(Event):
    """Every item of a stage is approved; its permits and certificates are issued together at one window."""

    ce_type = "cn.gov.onewindow.approvals.stage-completed.v1"

    applicant_id: str = Field(description="Account id of the applicant (invited to rate the stage).")
    project_code: str = Field(description="The construction project's code (项目代码).")
    project_name: str = Field(description="The project's name.")
    stage: Stage = Field(description="Which of the four stages completed.")
    catalogue_version: str = Field(description="Version of the stage catalogue the stage ran under.")
    channel: Channel = Field(description="Where the stage was declared.")
    staff_id: str | None = Field(default=None, description="Window staff member who accepted the stage.")
    departments: list[str] = Field(default_factory=list, description="Departments that decided the stage's items.")
    accepted_at: datetime = Field(description="When the window accepted the stage (UTC).")
    completed_at: datetime = Field(description="When the last item was approved (UTC).")
    within_time_limit: bool = Field(description="Whether it completed before its due time.")
    same_day: bool = Field(description="Whether it completed on the working day it was accepted (当日办结).")
    documents: list[IssuedDocument] = Field(description="The permits and certificates issued together.")


class ProjectCompletedV1(Event):
    """The fourth stage (completion acceptance) completed: the project's approvals are done. Keyed by the project code."""

    ce_type = "cn.gov.onewindow.approvals.project-completed.v1"

    applicant_id: str = Field(description="Account id of the applicant.")
    project_code: str = Field(description="The construction project's code (项目代码).")
    project_name: str = Field(description="The project's name.")
    completed_at: datetime = Field(description="When the last stage completed (UTC).")
    documents: list[IssuedDocument] = Field(description="Every document issued to the project over its four stages.")


class ProjectRegisteredV1(Event):
    """A construction project was registered (private: the applicant's phone). Keyed by the project code."""

    ce_type = "cn.gov.onewindow.approvals.project-registered.v1"

    project_code: str = Field(description="The construction project's code (项目代码).")
    project_name: str = Field(description="The project's name.")
    project_type: str = Field(description="housing, industrial, municipal, transport, water, ...")
    builder_name: str = Field(description="The builder (建设单位).")
    builder_uscc: str = Field(description="The builder's unified social credit code.")
    division_code: str = Field(description="Administrative division of the site (GB/T 2260).")
    applicant_id: str = Field(description="Account id of the applicant.")
    applicant_phone: str | None = Field(default=None, description="Applicant's mobile number for notices (personal data).")


class StageDeclaredV1(Event):
    """An applicant declared a stage with its merged form (一张表单); the window checks it next."""

    ce_type = "cn.gov.onewindow.approvals.stage-declared.v1"

    applicant_id: str = Field(description="Account id of the applicant.")
    project_code: str = Field(description="The project's code.")
    stage: Stage = Field(description="The stage declared.")
    catalogue_version: str = Field(description="Version of the stage catalogue the stage runs under.")
    channel: Channel = Field(description="Where the stage was declared.")
    items: list[str] = Field(description="The catalogue's items (and utility hookups) of the stage.")


class StageIncompleteV1(Event):
    """The window found fields or materials missing: everything missing for the whole stage, at once (一次性告知)."""

    ce_type = "cn.gov.onewindow.approvals.stage-incomplete.v1"

    applicant_id: str = Field(description="Account id of the applicant.")
    project_code: str = Field(description="The project's code.")
    stage: Stage = Field(description="The stage.")
    catalogue_version: str = Field(description="Catalogue version of the stage.")
    missing: list[FieldReason] = Field(description="Every missing field and material, named.")
    staff_id: str = Field(description="Window staff member who checked it.")


class StageAcceptedV1(Event):
    """The window accepted the stage (前台综合受理): its clock runs and its items go to the departments in parallel."""

    ce_type = "cn.gov.onewindow.approvals.stage-accepted.v1"

    applicant_id: str = Field(description="Account id of the applicant.")
    project_code: str = Field(description="The project's code.")
    project_name: str = Field(description="The project's name.")
    stage: Stage = Field(description="The stage.")
    catalogue_version: str = Field(description="Catalogue version of the stage.")
    channel: Channel = Field(description="Where it was declared.")
    accepted_at: datetime = Field(description="When the window accepted it (UTC).")
    due_at: datetime = Field(description="The stage's time limit in working days (UTC).")
    staff_id: str = Field(description="Window staff member who accepted it.")
    items: list[str] = Field(description="The stage's items.")


class ItemRequestedV1(Event):
    """A department (or utility provider) is asked to review its item (后台分类审批); carries its projection of the form."""

    ce_type = "cn.gov.onewindow.approvals.item-requested.v1"

    project_code: str = Field(description="The project's code.")
    stage: Stage = Field(description="The stage.")
    catalogue_version: str = Field(description="Catalogue version of the stage.")
    item: str = Field(description="The catalogue's item code.")
    item_name: str = Field(description="The item's name (zh-CN).")
    kind: ItemKind = Field(description="approval, joint_acceptance or utility.")
    department: str = Field(description="The department asked (a joint acceptance asks each of its departments).")
    attempt: int = Field(description="1 for the first request, +1 after each correction.")
    due_at: datetime = Field(description="The item's time limit (UTC).")
    form: dict[str, Any] = Field(description="The item's fields of the merged form (its projection; may hold personal data).")
    materials: dict[str, str] = Field(description="The item's materials: name → sha256 of the bytes.")


class ItemDecidedV1(Event):
    """A department's answer to an item request (produced by partner agencies' systems or the simulator)."""

    ce_type = "cn.gov.onewindow.departments.item-decided.v1"

    item: str = Field(description="The item answered.")
    department: str = Field(description="The answering department (must be one the item asked).")
    attempt: int = Field(description="The attempt of the request this answers.")
    decision: Decision = Field(description="approved (passed), returned (for correction, or defects found) or rejected.")
    reasons: list[FieldReason] = Field(default_factory=list, description="For returned: the fields or materials to correct.")
    reason: str | None = Field(default=None, description="For rejected: why.")
    result: dict[str, Any] = Field(default_factory=dict, description="For approved: the department's result reference.")
    reviewer_id: str = Field(description="Reviewer or system that decided.")


class ItemApprovedV1(Event):
    """Every department of an item approved it (a joint acceptance: every inspection passed)."""

    ce_type = "cn.gov.onewindow.approvals.item-approved.v1"

    applicant_id: str = Field(description="Account id of the applicant.")
    project_code: str = Field(description="The project's code.")
    stage: Stage = Field(description="The stage.")
    catalogue_version: str = Field(description="Catalogue version of the stage.")
    item: str = Field(description="The item.")
    kind: ItemKind = Field(description="approval, joint_acceptance or utility.")
    departments: list[str] = Field(description="The departments that approved it.")
    attempt: int = Field(description="The attempt approved.")


class ItemReturnedV1(Event):
    """An item was returned for correction (补正): only its fields and materials; the other items keep their decisions."""

    ce_type = "cn.gov.onewindow.approvals.item-returned.v1"

    applicant_id: str = Field(description="Account id of the applicant who must correct.")
    project_code: str = Field(description="The project's code.")
    stage: Stage = Field(description="The stage.")
    catalogue_version: str = Field(description="Catalogue version of the stage.")
    item: str = Field(description="The item returned.")
    item_name: str = Field(description="The item's name (zh-CN).")
    departments: list[str] = Field(description="The departments that returned it.")
    attempt: int = Field(description="The attempt returned.")
    reasons: list[FieldReason] = Field(description="What to correct, and why.")


class StageRejectedV1(Event):
    """A department rejected its item; the stage ends without permits."""

    ce_type = "cn.gov.onewindow.approvals.stage-rejected.v1"

    applicant_id: str = Field(description="Account id of the applicant.")
    project_code: str = Field(description="The project's code.")
    stage: Stage = Field(description="The stage.")
    catalogue_version: str = Field(description="Catalogue version of the stage.")
    item: str = Field(description="The item rejected.")
    department: str = Field(description="The department that rejected it.")
    reason: str = Field(description="Why.")


class JointAcceptancePassedV1(Event):
    """Every department of the joint completion acceptance (联合验收) passed; one result and one certificate."""

    ce_type = "cn.gov.onewindow.approvals.joint-acceptance-passed.v1"

    applicant_id: str = Field(description="Account id of the applicant.")
    project_code: str = Field(description="The project's code.")
    catalogue_version: str = Field(description="Catalogue version of the stage.")
    departments: list[str] = Field(description="The departments that inspected and passed.")
    inspections: int = Field(description="Inspections recorded in all (a department that found defects inspects again).")


class StageDeadlineWarningV1(Event):
    """A stage is at risk: little time is left before its time limit."""

    ce_type = "cn.gov.onewindow.approvals.stage-deadline-warning.v1"

    project_code: str = Field(description="The project's code.")
    stage: Stage = Field(description="The stage.")
    catalogue_version: str = Field(description="Catalogue version of the stage.")
    due_at: datetime = Field(description="The time limit (UTC).")
    pending_items: list[str] = Field(description="Items not yet approved.")
    helper_id: str | None = Field(default=None, description="The helper assigned, if any.")


class StageOverdueV1(Event):
    """A stage passed its time limit without completing."""

    ce_type = "cn.gov.onewindow.approvals.stage-overdue.v1"

    project_code: str = Field(description="The project's code.")
    stage: Stage = Field(description="The stage.")
    catalogue_version: str = Field(description="Catalogue version of the stage.")
    due_at: datetime = Field(description="The time limit that passed (UTC).")
    pending_items: list[str] = Field(description="Items not yet approved.")
    helper_id: str | None = Field(default=None, description="The helper assigned, if any.")


class ItemOverdueV1(Event):
    """An item passed its own time limit while its departments still had it (a returned item waits for the applicant: not counted)."""

    ce_type = "cn.gov.onewindow.approvals.item-overdue.v1"

    project_code: str = Field(description="The project's code.")
    stage: Stage = Field(description="The stage.")
    catalogue_version: str = Field(description="Catalogue version of the stage.")
    item: str = Field(description="The item.")
    item_name: str = Field(description="The item's name (zh-CN).")
    departments: list[str] = Field(description="The departments that have not answered.")
    attempt: int = Field(description="The attempt awaiting their answer.")
    due_at: datetime = Field(description="The item's time limit that passed (UTC).")
    helper_id: str | None = Field(default=None, description="The helper assigned to the stage, if any.")
