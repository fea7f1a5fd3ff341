"""Events produced by the registration service (企业开办)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from contracts.envelope import Event

Channel = Literal["window", "web", "app", "wechat", "other_region"]


class ApplicationSubmittedV1(Event):
    """An applicant submitted a company start-up application (one form)."""

    ce_type = "cn.gov.onewindow.registration.application-submitted.v1"

    application_id: str = Field(description="Id of the application (equals the case number once accepted).")
    company_name: str = Field(description="Proposed company name (企业名称).")
    applicant_id: str = Field(description="Account id of the applicant who submitted it.")
    applicant_phone: str | None = Field(default=None, description="Applicant's mobile number for notices (personal data).")
    channel: Channel = Field(description="Where the application came in: window, web, app, wechat or another region's center.")
