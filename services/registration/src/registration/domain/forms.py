"""The one application form (一次填报) and the licence-change form. Pure validation:
every bad field is reported at once by pydantic; ID numbers are checked by GB 11643 and
division codes against GB/T 2260 (``registration.domain.divisions``).

A form read back from the database is validated with ``context={"stored": True}``: the
code-list lookups are skipped there (the form was checked when it was saved), so a case
stays readable whatever the list or the rules become."""

from __future__ import annotations

import datetime as dt
import functools
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, model_validator
from pydantic_core import PydanticCustomError

from contracts.codes import USCC, Division
from contracts.vocabulary import Phone
from registration.domain.divisions import id_number_problems
from servicekit.amounts import Amount
from servicekit.text import Line, Name

CompanyType = Literal["limited_company", "joint_stock_company", "sole_proprietorship", "partnership", "branch"]
Seal = Literal["official", "finance", "invoice", "contract", "legal_representative"]
InvoiceType = Literal["vat_general", "vat_special", "electronic_general", "electronic_special"]


_BEIJING = dt.timezone(dt.timedelta(hours=8))


def _stored(info: ValidationInfo) -> bool:
    return isinstance(info.context, dict) and info.context.get("stored") is True


@functools.lru_cache(maxsize=4096)  # the same people are validated again and again (forms, corrections)
def _checked_id_number(value: str, today: dt.date) -> str:
    problems = id_number_problems(value, today)
    if problems:
        raise PydanticCustomError("id_number", "not a valid resident ID number: {problems}",
                                  {"problems": "; ".join(problems)})
    return value


def _id_number(value: str, info: ValidationInfo) -> str:
    value = value.strip().upper()
    return value if _stored(info) else _checked_id_number(value, dt.datetime.now(_BEIJING).date())


def _rule(message: str) -> PydanticCustomError:
    """A rule across fields that no JSON Schema states (error type ``form_rule``)."""
    return PydanticCustomError("form_rule", message)


# Rules beyond the JSON Schema, each with its own error type (the API documents say which):
# ``id_number`` (GB 11643 check character, date of birth, a region code of any year),
# ``uscc`` (GB 32100 check characters), ``division_code`` (GB/T 2260 code list of any year),
# ``form_rule`` (rules across fields), ``decimal_max_places`` (an amount's decimals).
ID_NUMBER_PATTERN = r"^[0-9]{17}[0-9Xx]$"


# The formats are in the schema; the validators check them with a message for each refusal.
IdNumber = Annotated[str, Field(json_schema_extra={"pattern": ID_NUMBER_PATTERN}), AfterValidator(_id_number)]
# Text typed by people (servicekit.text, decision 23): stripped, length-limited, no control,
# bidi or zero-width characters; names also no symbols and at least one letter or digit.
CompanyName = Annotated[str, Name(max_length=60, min_length=4)]
PersonName = Annotated[str, Name(max_length=50)]
ScopeItem = Annotated[str, Line(max_length=200)]
MaterialId = Annotated[str, Line(max_length=64)]
# Amounts in 10k CNY (万元): at most 10,000,000 万元 (1000亿元), above any registered capital on record.
MAX_MATERIALS = 50

# Amounts as a JSON number or a decimal string, the string's pattern stating the same bounds
# (servicekit.amounts): at most 10,000,000 万元 with up to 4 decimals.
Capital = Annotated[Decimal, Amount(digits=7, places=4, positive=False),
                    Field(description="10k CNY (万元); the investors' sum (0: a branch).")]
Contribution = Annotated[Decimal, Amount(digits=7, places=4), Field(description="Subscribed capital, 10k CNY (万元).")]
NewCapital = Annotated[Decimal, Amount(digits=7, places=4), Field(description="The new registered capital, 10k CNY (万元).")]


class _Form(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Person(_Form):
    name: PersonName = Field(description="Full name.")
    id_number: IdNumber = Field(description="Resident ID number (GB 11643).")
    phone: Phone | None = None


class Shareholder(Person):
    contribution: Contribution


class Employee(_Form):
    name: PersonName
    id_number: IdNumber


class Address(_Form):
    division_code: Division
    detail: Annotated[str, Line(max_length=200, min_length=4)] = Field(description="Street address.")


class SealOrder(_Form):
    seals: list[Seal] = Field(min_length=1, description="Which seals to engrave.")

    @model_validator(mode="after")
    def _unique(self) -> SealOrder:
        if len(set(self.seals)) != len(self.seals):
            raise _rule("a seal is listed twice")
        return self


class TaxDetails(_Form):
    taxpayer_type: Literal["small_scale", "general"] = Field(description="小规模纳税人 or 一般纳税人.")
    invoice_types: list[InvoiceType] = Field(default_factory=list, description="Invoices to be issued.")
    monthly_invoice_quota: int = Field(default=0, ge=0, le=10000, description="Invoices per month requested.")


class CompanyForm(_Form):
    """Everything company start-up needs, asked once."""

    company_name: CompanyName = Field(description="Company name (企业名称).")
    company_type: CompanyType
    address: Address
    registered_capital: Capital
    business_scope: list[ScopeItem] = Field(min_length=1, max_length=50,
                                            description="Business scope items (经营范围).")
    legal_representative: Person
    shareholders: list[Shareholder] = Field(min_length=1, max_length=50)
    seal_order: SealOrder
    tax: TaxDetails
    employees: list[Employee] = Field(default_factory=list, max_length=500, description="Employees to enrol in social security.")
    materials: list[MaterialId] = Field(default_factory=list, max_length=MAX_MATERIALS,
                                        description="Documents attached (see required_materials).")

    @model_validator(mode="after")
    def _consistent(self) -> CompanyForm:
        n = len(self.shareholders)
        if self.company_type == "sole_proprietorship" and n != 1:
            raise _rule("shareholders: a sole proprietorship has exactly one investor")
        if self.company_type == "partnership" and n < 2:
            raise _rule("shareholders: a partnership needs at least two partners")
        if self.company_type != "branch" and sum(s.contribution for s in self.shareholders) != self.registered_capital:
            raise _rule("shareholders: contributions must add up to registered_capital")
        ids = [s.id_number for s in self.shareholders]
        if len(set(ids)) != len(ids):
            raise _rule("shareholders: the same ID number is listed twice")
        return self


ChangeField = Literal["address", "business_scope", "legal_representative", "registered_capital"]


class ChangeForm(_Form):
    """A business licence change (营业执照变更): address, scope, legal representative or capital."""

    unified_social_credit_code: USCC
    company_name: CompanyName
    address: Address | None = None
    business_scope: list[ScopeItem] | None = Field(default=None, min_length=1, max_length=50)
    legal_representative: Person | None = None
    registered_capital: NewCapital | None = None
    materials: list[MaterialId] = Field(default_factory=list, max_length=MAX_MATERIALS)

    @property
    def changed(self) -> list[ChangeField]:
        fields: tuple[ChangeField, ...] = ("address", "business_scope", "legal_representative", "registered_capital")
        return [f for f in fields if getattr(self, f) is not None]

    @model_validator(mode="after")
    def _something_changes(self) -> ChangeForm:
        if not self.changed:
            raise _rule("at least one of address, business_scope, legal_representative, registered_capital")
        return self


def required_materials(form: CompanyForm | ChangeForm) -> dict[str, str]:
    """The documents the window must see, by form; each with its zh-CN name."""
    if isinstance(form, ChangeForm):
        needed = {"change_application": "变更登记申请书", "change_resolution": "股东会（股东）变更决议"}
        if form.address is not None:
            needed["address_proof"] = "新住所使用证明"
        if form.legal_representative is not None:
            needed["legal_representative_id"] = "新任法定代表人身份证明"
        return needed
    needed = {"legal_representative_id": "法定代表人身份证明", "address_proof": "住所使用证明"}
    if form.company_type in ("limited_company", "joint_stock_company"):
        needed["articles_of_association"] = "公司章程"
    if form.company_type == "partnership":
        needed["partnership_agreement"] = "合伙协议"
    if form.company_type == "branch":
        needed["parent_licence"] = "隶属企业营业执照"
    if form.company_type != "branch":
        needed["investor_ids"] = "投资人身份证明"
    return needed
