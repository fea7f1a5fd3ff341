"""Events produced by the cross-region service (跨省通办 / 省内通办). Kafka key: the
cross-region case's reference (``case_number``), which is also the correlation id of every
event of its journey in this region, the registration case's included.

``CaseForwardedV1`` is private (it carries the form and the applicant's phone): another
region's center forwarded a case to us, or an applicant from elsewhere applied online, and
registration makes it a case of its own. ``CrossCaseOpenedV1`` is private too (the phone:
notifications learns where to reach the applicant). The progress and completion events are
public: notifications tells the applicant each step, ratings opens a rating (好差评)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from contracts.envelope import Event

Matter = Literal["licence_change", "company_establishment"]
"""The matters (事项) agreed with partner regions: a business licence change (营业执照变更登记)
and a company establishment (企业开办)."""
MATTER_NAMES: dict[str, str] = {"licence_change": "营业执照变更登记", "company_establishment": "企业开办"}
Mode = Literal["online", "proxy", "joint"]
"""全程网办 (fully online), 异地代收代办 (collected at one center, handled at another), 多地联办 (joint)."""
MODE_NAMES: dict[str, str] = {"online": "全程网办", "proxy": "异地代收代办", "joint": "多地联办"}
CrossStatus = Literal["forwarded", "received", "registered", "incomplete", "accepted", "returned", "licence_issued",
                      "part_completed", "completed", "rejected", "result_ready", "handed_out"]


class CaseForwardedV1(Event):
    """A case to be handled here arrived from another region's center (or an applicant from elsewhere applied
    online): registration makes it a case of its own (its correlation id is this reference)."""

    ce_type = "cn.gov.onewindow.crossregion.case-forwarded.v1"

    reference: str = Field(description="The cross-region case's reference (also the correlation id).")
    matter: Matter = Field(description="The matter to handle, e.g. `licence_change`.")
    mode: Mode = Field(description="online, proxy (异地代收代办) or joint (多地联办).")
    origin_region: str = Field(description="Division code of the region whose window took the application.")
    applicant_id: str = Field(description="Account id of the applicant.")
    applicant_phone: str | None = Field(default=None, description="Applicant's mobile number (personal data).")
    form: dict[str, Any] = Field(description="The application form of the matter (personal data).")


class CrossCaseOpenedV1(Event):
    """A cross-region case was opened here: at our window for another region, or for a case another region forwarded."""

    ce_type = "cn.gov.onewindow.crossregion.cross-case-opened.v1"

    applicant_id: str = Field(description="Account id of the applicant.")
    applicant_phone: str | None = Field(default=None, description="Applicant's mobile number (personal data).")
    matter: Matter = Field(description="The matter.")
    mode: Mode = Field(description="online, proxy or joint.")
    direction: Literal["outbound", "inbound"] = Field(description="outbound: taken here, handled elsewhere; "
                                                      "inbound: handled here for another region.")
    origin_region: str = Field(description="Division code of the region whose window took the application.")
    handling_regions: list[str] = Field(description="Division codes of the regions that handle it.")
    region_names: str = Field(description="The handling regions' names, for people (e.g. `金昌市`).")


class CrossCaseProgressedV1(Event):
    """A cross-region case changed status (as seen where the applicant applied)."""

    ce_type = "cn.gov.onewindow.crossregion.cross-case-progressed.v1"

    applicant_id: str = Field(description="Account id of the applicant.")
    matter: Matter = Field(description="The matter.")
    status: CrossStatus = Field(description="The new status.")
    region: str = Field(description="Division code of the region where it happened.")
    region_name: str = Field(description="That region's name.")
    detail: str = Field(default="", description="What happened, for people (no personal data).")
    remote_case_number: str | None = Field(default=None, description="The handling region's case number, once known.")


class CrossRegionCaseCompletedV1(Event):
    """A cross-region case completed: every handling region's part is done (its result is ready to hand out)."""

    ce_type = "cn.gov.onewindow.crossregion.cross-region-case-completed.v1"

    applicant_id: str = Field(description="Account id of the applicant (invited to rate the case).")
    matter: Matter = Field(description="The matter that was handled.")
    mode: Mode = Field(description="online, proxy or joint.")
    origin_region: str = Field(description="Division code of the region whose window took the application.")
    handling_regions: list[str] = Field(description="Division codes of the regions that handled it.")
    staff_id: str | None = Field(default=None, description="Window staff member who took the application, if any.")
    completed_at: datetime = Field(description="When the last region's part completed (UTC).")
    within_time_limit: bool = Field(description="Whether every part completed within its time limit.")
    deliver_at: Literal["origin", "handling"] = Field(description="Where the applicant collects the result.")
