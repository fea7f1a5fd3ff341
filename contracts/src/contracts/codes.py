"""Codes every service checks the same way (pure; python-stdnum for the check characters).

Unified social credit code (统一社会信用代码, GB 32100-2015): 18 characters: registration
authority (1), entity category (1), administrative division (6), organisation code (9,
GB 11714 with its own check character), and a check character over the 17 before it
(alphabet without I, O, Z, S, V). Registration issues codes; approvals checks builders'."""

from __future__ import annotations

import functools
from typing import Annotated, Any

from pydantic import AfterValidator, Field, ValidationInfo
from pydantic_core import PydanticCustomError
from stdnum import numdb
from stdnum.cn import uscc as _uscc

from contracts.vocabulary import DivisionCode

_ORG_VALUES = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def organisation_check(body: str) -> str:
    """GB 11714 check character of the 8-character organisation code body."""
    c = 11 - sum(_ORG_VALUES.index(ch) * w for ch, w in zip(body, _ORG_WEIGHTS, strict=True)) % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def validate_uscc(code: str) -> str:
    """Return the code if valid (length, alphabet, both check characters); else ValueError."""
    try:
        code = _uscc.validate(code)
    except Exception as exc:  # stdnum's ValidationError subclasses
        raise ValueError(f"not a valid unified social credit code: {exc}") from exc
    org = code[8:17]
    if organisation_check(org[:8]) != org[8]:
        raise ValueError("not a valid unified social credit code: organisation code check character")
    return code


USCC_FORMAT = r"^[0-9A-HJ-NPQRTUWXYa-hj-npqrtuwxy]{2}[0-9]{6}[0-9A-Za-z]{10}$"
"""The code's shape (the schema states it); the check characters are validated apart."""


def _checked_uscc(value: str) -> str:
    try:
        return validate_uscc(value.strip().upper())
    except ValueError as exc:
        raise PydanticCustomError("uscc", "{problem}", {"problem": str(exc)}) from exc


USCC = Annotated[str, Field(json_schema_extra={"pattern": USCC_FORMAT}), AfterValidator(_checked_uscc)]
"""A unified social credit code in a request: its shape in the schema, both check characters
checked (error type ``uscc``), stripped and upper-cased."""

# -- administrative division codes (GB/T 2260) ------------------------------------------------
# python-stdnum's ``cn/loc`` data holds every code with the years it was in use. A code counts
# if it exists in ANY year: a resident ID number keeps the code it was issued under (often long
# after birth; codes are re-used and retired), and a site or a region is named by a code that
# may since have been renamed.


@functools.cache
def division_codes() -> frozenset[str]:
    """Every 6-digit code the list has ever held (read once: ~7,000 codes)."""
    codes: set[str] = set()

    def walk(prefixes: list[Any], head: str) -> None:
        for length, low, high, _props, children in prefixes:
            for n in range(int(low), int(high) + 1):
                code = head + str(n).zfill(length)
                if len(code) == 6:
                    codes.add(code)
                walk(children, code)

    walk(numdb.get("cn/loc").prefixes, "")
    return frozenset(codes)


def division_problem(code: str) -> str | None:
    """Why ``code`` is not an administrative division code (GB/T 2260, any year), or None."""
    if len(code) != 6 or not code.isdigit():
        return f"{code!r} is not 6 digits"
    if code not in division_codes():
        return f"{code} is not an administrative division code (GB/T 2260, any year)"
    return None


def _checked_division(value: str, info: ValidationInfo) -> str:
    # a record read back from a database (context {"stored": True}) was checked when it was saved
    if isinstance(info.context, dict) and info.context.get("stored") is True:
        return value
    if (problem := division_problem(value)) is not None:
        raise PydanticCustomError("division_code", "{problem}", {"problem": problem})
    return value


Division = Annotated[DivisionCode, AfterValidator(_checked_division)]
"""A division code in a request: 6 digits (the schema's pattern) on the code list of any year
(error type ``division_code``)."""

__all__ = ["USCC", "USCC_FORMAT", "Division", "division_codes", "division_problem", "organisation_check",
           "validate_uscc"]
