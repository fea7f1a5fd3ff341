"""The console's forms: strict models of what each form may submit (unknown fields refused,
text bounded and free of control characters: the kit's text types), checked before any
service is called. A service's own refusal is shown next to the field it names as well."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from servicekit.text import Line, RequestModel

Account = Annotated[str, Line(64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$")]
CaseNumber = Annotated[str, Line(40, pattern=r"^[A-Za-z0-9][A-Za-z0-9-]*$")]


class HelperForm(RequestModel):
    helper_id: Account = Field(description="帮办人员账号")


class LookupForm(RequestModel):
    case_number: CaseNumber
