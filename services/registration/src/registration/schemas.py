"""HTTP DTOs."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class ApplicationIn(BaseModel):
    company_name: str = Field(min_length=2, max_length=100, description="Proposed company name (企业名称).")
    applicant_phone: str | None = Field(default=None, pattern=r"^1[3-9]\d{9}$", description="Mobile number for notices.")
    channel: Literal["window", "web", "app", "wechat", "other_region"] = Field(default="web")


class ApplicationOut(BaseModel):
    application_id: str
    company_name: str
    applicant_id: str
    channel: str
    status: str
    submitted_at: datetime
