"""Events produced by the approvals service (工程建设项目审批): construction projects in four
stages. Each stage application is a case of its own (its case number is the Kafka key);
project-level events are keyed by the project code.

The two completion events below are public: the ratings service opens a rating for each
completed stage (一事一评), and notifications tells the applicant. The approvals service adds
its other events (stage accepted, item requested/decided, ...) beside them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from contracts.envelope import Event
from contracts.vocabulary import Channel

Stage = Literal["initiation_land_use", "engineering_construction", "construction_permit", "completion_acceptance"]
"""The four stages, in order: 立项用地规划许可, 工程建设许可, 施工许可, 竣工验收."""


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
