"""Valid forms and ID numbers for tests and demos."""

from __future__ import annotations

import copy
from typing import Any

from stdnum.cn import ric


def id_number(birth: str = "19900307", seq: str = "123", region: str = "620102") -> str:
    """A resident ID number with a correct check character (GB 11643)."""
    body = f"{region}{birth}{seq}"
    return body + ric.calc_check_digit(body + "0")  # stdnum expects a placeholder check character


def company_form(name: str = "兰州黄河一窗科技有限公司", **overrides: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "company_name": name,
        "company_type": "limited_company",
        "address": {"division_code": "620102", "detail": "甘肃省兰州市城关区张掖路1号"},
        "registered_capital": "100",
        "business_scope": ["软件开发", "信息技术咨询服务"],
        "legal_representative": {"name": "张三", "id_number": id_number(), "phone": "13912345678"},
        "shareholders": [
            {"name": "张三", "id_number": id_number(), "contribution": "60"},
            {"name": "李四", "id_number": id_number("19850612", "456"), "contribution": "40"},
        ],
        "seal_order": {"seals": ["official", "finance", "invoice"]},
        "tax": {"taxpayer_type": "small_scale", "invoice_types": ["electronic_general"], "monthly_invoice_quota": 25},
        "employees": [{"name": "王五", "id_number": id_number("19950101", "789")}],
        "materials": ["legal_representative_id", "address_proof", "articles_of_association", "investor_ids"],
    }
    form = copy.deepcopy(form)
    form.update(overrides)
    return form
