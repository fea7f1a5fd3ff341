"""Codes every service checks the same way (pure; python-stdnum for the check characters).

Unified social credit code (统一社会信用代码, GB 32100-2015): 18 characters: registration
authority (1), entity category (1), administrative division (6), organisation code (9,
GB 11714 with its own check character), and a check character over the 17 before it
(alphabet without I, O, Z, S, V). Registration issues codes; approvals checks builders'."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError
from stdnum.cn import uscc as _uscc

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

__all__ = ["USCC", "USCC_FORMAT", "organisation_check", "validate_uscc"]
