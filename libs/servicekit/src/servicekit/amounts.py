"""Amounts people type (capital, area, investment), checked once at the edge and stated exactly
in the JSON Schema (decision 23). Pure (stdlib and pydantic), so domain models may use it.

``Annotated[Decimal, Amount(digits=7, places=4, positive=True)]`` takes a JSON number or a
decimal string, at most ``10**digits`` with at most ``places`` decimals (above 0 if
``positive``, else at least 0). The string's pattern states the same bounds, so a client
generating values from the schema sends only what is accepted; a number's digits beyond
``places`` are refused with ``decimal_max_places`` (a JSON Schema ``multipleOf`` cannot say it
reliably for binary floats)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema


@dataclass(frozen=True, slots=True)
class Amount:
    digits: int
    """The maximum is ``10**digits``."""
    places: int = 2
    positive: bool = True

    @property
    def maximum(self) -> int:
        return 10 ** self.digits

    @property
    def pattern(self) -> str:
        d, p = self.digits, self.places
        frac = rf"(?:\.[0-9]{{1,{p}}})?"
        top = rf"1{'0' * d}(?:\.0{{1,{p}}})?"
        if not self.positive:
            return rf"^(?:[0-9]{{1,{d}}}{frac}|{top})$"
        small = "|".join(f"{'0' * i}[1-9][0-9]{{0,{p - 1 - i}}}" for i in range(p))
        return rf"^(?:[1-9][0-9]{{0,{d - 1}}}{frac}|0\.(?:{small})|{top})$"

    def _string(self, value: Any) -> Any:
        if isinstance(value, str) and not re.fullmatch(self.pattern, value):
            raise PydanticCustomError("amount_string", "an amount as text must match {pattern}",
                                      {"pattern": self.pattern})
        return value

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        zero = Decimal(0)
        return core_schema.no_info_before_validator_function(
            self._string, core_schema.decimal_schema(le=Decimal(self.maximum), gt=zero if self.positive else None,
                                                     ge=None if self.positive else zero,
                                                     max_digits=self.digits + 1 + self.places, decimal_places=self.places))

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        bound = {"exclusiveMinimum": 0} if self.positive else {"minimum": 0}
        return {"anyOf": [{"type": "number", **bound, "maximum": self.maximum},
                          {"type": "string", "pattern": self.pattern}]}


__all__ = ["Amount"]
