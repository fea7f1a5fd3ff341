"""The console's forms: strict models of what each form may submit (unknown fields refused,
text bounded and free of control characters: the kit's text types), checked before any
service is called. A service's own refusal is shown next to the field it names as well."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from servicekit.text import Key, Line, Paragraph, RequestModel

Account = Annotated[str, Line(64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$")]
CaseNumber = Annotated[str, Line(40, pattern=r"^[A-Za-z0-9][A-Za-z0-9-]*$")]


class HelperForm(RequestModel):
    helper_id: Account = Field(description="帮办人员账号")


class LookupForm(RequestModel):
    case_number: CaseNumber


# -- ratings: the ledger, paper cards, the box opening ----------------------------------------------------
Day = Annotated[str, Line(10, pattern=r"^20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]
Month = Annotated[str, Line(7, pattern=r"^20[0-9]{2}-(0[1-9]|1[0-2])$")]
WindowId = Key  # ratings' ids: any one line of 64 characters
SerialText = Annotated[str, Line(40)]  # one serial; its format and check character: domain.serial_problem
SerialLines = Annotated[str, Paragraph(8000)]  # one serial a line (500 × 11 characters and line ends)
Reply = Annotated[str, Paragraph(2000)]


class CallbackForm(RequestModel):
    outcome: Reply = Field(description="回访结果")
    reasonable: bool = Field(description="诉求是否合理")


class FeedbackForm(RequestModel):
    feedback: Reply = Field(description="整改反馈")


class ExplanationForm(RequestModel):
    explanation: Reply = Field(description="解释说明")


class IssueForm(RequestModel):
    day: Day
    window_id: WindowId
    staff_id: Key
    first: SerialText
    last: SerialText


class CardMovesForm(RequestModel):
    action: Literal["drop_good", "drop_bad", "return", "void"]
    serials: SerialLines


class ReconcileForm(RequestModel):
    day: Day
    window_id: WindowId


class OpenBoxForm(RequestModel):
    month: Month


class VotesForm(RequestModel):
    window_id: WindowId
    slot: Literal["good", "bad"]
    serials: SerialLines
