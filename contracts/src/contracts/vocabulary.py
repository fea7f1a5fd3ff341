"""The platform's shared vocabulary, written once: the names every service, event and
screen uses for departments, registration steps and channels, with their zh-CN labels,
and the formats of phone numbers and codes.

Pure data (standard library and pydantic only), so any module may import it, a
service's ``domain`` included."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

# -- formats ---------------------------------------------------------------------------------
PHONE_PATTERN = r"^1[3-9]\d{9}$"
"""A mainland China mobile number: 11 digits starting 13–19."""
DIVISION_CODE_PATTERN = r"^[1-8]\d{5}$"
"""An administrative division code (GB/T 2260): 6 digits."""
USCC_PATTERN = r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$"
"""The unified social credit code (GB 32100-2015): 18 characters (check character validated apart)."""

Phone = Annotated[str, Field(pattern=PHONE_PATTERN, description="Mainland mobile number (personal data).")]
DivisionCode = Annotated[str, Field(pattern=DIVISION_CODE_PATTERN,
                                    description="Administrative division code (GB/T 2260), 6 digits.")]


# -- departments --------------------------------------------------------------------------
class Department(StrEnum):
    """Departments that review steps or items (后台审批)."""

    MARKET_SUPERVISION = "market_supervision"
    PUBLIC_SECURITY = "public_security"
    TAX = "tax"
    HUMAN_RESOURCES_SOCIAL_SECURITY = "human_resources_social_security"


DEPARTMENT_NAMES: dict[str, str] = {
    Department.MARKET_SUPERVISION: "市场监管局",
    Department.PUBLIC_SECURITY: "公安局",
    Department.TAX: "税务局",
    Department.HUMAN_RESOURCES_SOCIAL_SECURITY: "人社局",
}


# -- company start-up steps ---------------------------------------------------------------------
class Step(StrEnum):
    """The steps of a company start-up (企业开办)."""

    LICENCE = "licence"
    SEAL = "seal"
    TAX = "tax"
    SOCIAL_SECURITY = "social_security"


STEP_DEPARTMENT: dict[Step, Department] = {
    Step.LICENCE: Department.MARKET_SUPERVISION,
    Step.SEAL: Department.PUBLIC_SECURITY,
    Step.TAX: Department.TAX,
    Step.SOCIAL_SECURITY: Department.HUMAN_RESOURCES_SOCIAL_SECURITY,
}
STEP_NAMES: dict[str, str] = {
    Step.LICENCE: "营业执照登记",
    Step.SEAL: "公章刻制",
    Step.TAX: "税务登记及发票申领",
    Step.SOCIAL_SECURITY: "社保登记",
}

# -- how an application came in ------------------------------------------------------------------
Channel = Literal["window", "web", "app", "wechat", "other_region"]
Decision = Literal["approved", "returned", "rejected"]


def step_name(step: str) -> str:
    """The zh-CN label of a step (the key itself if unknown)."""
    return STEP_NAMES.get(step, step)


def department_name(department: str) -> str:
    """The zh-CN label of a department (the key itself if unknown)."""
    return DEPARTMENT_NAMES.get(department, department)


__all__ = [
    "DEPARTMENT_NAMES", "DIVISION_CODE_PATTERN", "PHONE_PATTERN", "STEP_DEPARTMENT", "STEP_NAMES", "USCC_PATTERN",
    "Channel", "Decision", "Department", "DivisionCode", "Phone", "Step", "department_name", "step_name",
]
