"""Approvals test data: a valid project, the default catalogue, each stage's form, materials."""

from __future__ import annotations

import base64
import hashlib
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CATALOGUE = ROOT / "services/approvals/src/approvals/catalogue/default.toml"
STAGES = ("initiation_land_use", "engineering_construction", "construction_permit", "completion_acceptance")


def catalogue_data() -> dict[str, Any]:
    return tomllib.loads(DEFAULT_CATALOGUE.read_text(encoding="utf-8"))


def project_form(code: str, name: str = "兰州新区综合体项目", project_type: str = "housing") -> dict[str, Any]:
    return {
        "project_code": code, "name": name, "project_type": project_type,
        "builder": {"name": "甘肃建投置业有限公司", "unified_social_credit_code": "91620100MA000CT711"},
        "location": {"division_code": "620102", "detail": "兰州市城关区南滨河路88号"},
        "land_area": "25000.00", "investment": "48000.00",
    }


STAGE_FORMS: dict[str, dict[str, Any]] = {
    "initiation_land_use": {"project_summary": "住宅及配套商业", "construction_scale": "12栋住宅",
                            "total_investment": 48000, "land_area": 25000, "land_use": "二类居住用地"},
    "engineering_construction": {"building_area": 86000, "floors": 26, "designer_name": "甘肃省建筑设计研究院",
                                 "air_defence_area": 3000},
    "construction_permit": {"contractor_name": "甘肃建工集团", "supervisor_name": "兰州建设监理公司",
                            "contract_price": 30000, "planned_start": "2027-03-01"},
    "completion_acceptance": {"completion_date": "2028-09-30", "water_demand": 300, "power_demand": 2000},
}

MATERIALS = ("project_proposal", "site_plan", "land_title", "land_grant_contract", "design_scheme",
             "construction_drawings", "construction_contract", "completion_report", "as_built_drawings",
             "hookup_application")


def material_bytes(name: str, version: int = 1) -> bytes:
    return f"%PDF-1.7 {name} v{version}\n".encode() * 8


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def upload_body(name: str, version: int = 1) -> dict[str, str]:
    data = material_bytes(name, version)
    return {"name": name, "content_base64": base64.b64encode(data).decode(), "sha256": sha256(data)}
