"""The merged form of a stage (一张表单): the union of its items' fields, each checked by the
catalogue's field type; and the project's own data, checked once at registration."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from approvals.domain.catalogue import FieldDef
from contracts.codes import USCC, Division
from servicekit.amounts import Amount
from servicekit.text import Line, Name

ProjectType = Literal["housing", "commercial", "industrial", "municipal", "transport", "water"]
ProjectCode = Annotated[str, Field(pattern=r"^[0-9]{4}-[0-9]{6}-[0-9]{2}-[0-9]{2}-[0-9]{6}$",
                                   description="项目代码 as the national investment project platform gives it: "
                                   "YYYY-DDDDDD-II-TT-NNNNNN (e.g. 2026-620102-47-01-000123).")]


class _Form(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Builder(_Form):
    name: Annotated[str, Name(max_length=100, min_length=4)] = Field(description="The builder (建设单位).")
    unified_social_credit_code: USCC = Field(description="Checked like registration's (GB 32100-2015).")


class Location(_Form):
    division_code: Division
    detail: Annotated[str, Line(max_length=200, min_length=4)] = Field(description="Street address of the site.")


class ProjectForm(_Form):
    """A construction project, registered once."""

    project_code: ProjectCode
    name: Annotated[str, Name(max_length=100, min_length=4)] = Field(description="The project's name.")
    builder: Builder
    location: Location
    project_type: ProjectType
    land_area: Annotated[Decimal, Amount(digits=8, places=2)] = Field(description="Square metres.")
    investment: Annotated[Decimal, Amount(digits=8, places=2)] = Field(description="10k CNY (万元).")


@functools.lru_cache(maxsize=64)
def _adapter(kind: str, max_length: int, maximum: float | None) -> TypeAdapter[Any]:
    top = maximum if maximum is not None else 1e12
    if kind == "number":
        return TypeAdapter(Annotated[float, Field(ge=0, le=top, allow_inf_nan=False)])
    if kind == "integer":
        return TypeAdapter(Annotated[int, Field(ge=0, le=int(top), strict=True)])
    if kind == "date":
        return TypeAdapter(dt.date)
    if kind == "boolean":
        return TypeAdapter(Annotated[bool, Field(strict=True)])
    return TypeAdapter(Annotated[str, Line(max_length=max_length)])


def check_fields(values: Mapping[str, Any], defs: Mapping[str, FieldDef], *, prefix: str = "form") -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The values with the types the catalogue gives (dates as ISO strings), and every bad one named."""
    out: dict[str, Any] = {}
    errors: list[dict[str, str]] = []
    for name, value in values.items():
        d = defs.get(name)
        if d is None:
            errors.append({"field": f"{prefix}.{name}", "message": f"not a field of this stage (one of: {', '.join(sorted(defs))})",
                           "type": "catalogue"})
            continue
        try:
            checked = _adapter(d.type, d.max_length, d.maximum).validate_python(value)
        except ValidationError as exc:
            errors.append({"field": f"{prefix}.{name}", "message": exc.errors()[0]["msg"], "type": "catalogue"})
            continue
        out[name] = checked.isoformat() if isinstance(checked, dt.date) else checked
    return out, errors
