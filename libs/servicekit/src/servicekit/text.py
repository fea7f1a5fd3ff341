"""Text that people type, checked once at the edge (decision 23). Pure (stdlib and pydantic),
so domain models may use it too.

Every text field of a request is ``Annotated[str, Text(...)]`` (or ``Name``/``Line``/
``Paragraph``): surrounding whitespace stripped, NFC-normalised, a length limit, and refused
when it holds a character that is invisible or changes how the text around it is shown:

- control characters (C0, DEL, C1: NUL, ESC, ...); only a ``Paragraph`` allows a line feed
  (``\\r\\n`` and ``\\r`` become ``\\n``), and nothing allows a tab;
- format characters (Unicode ``Cf``): bidi embeddings, overrides and isolates
  (U+202A–U+202E, U+2066–U+2069, U+200E/U+200F, U+061C), zero-width characters
  (U+200B–U+200D, U+2060, U+FEFF), the soft hyphen, tag characters;
- lone surrogates (``Cs``), private-use (``Co``) and unassigned (``Cn``) code points, and the
  line/paragraph separators U+2028/U+2029.

A ``Name`` (company, person) also refuses symbols (``S*``: emoji, ``<``, ``>``, ``=``...) and
must contain a letter or a digit: a whitespace-only or punctuation-only name is refused.
Markup characters are data elsewhere: ``<script>`` in an address is stored as typed and
only ever returned inside JSON strings (escape it where you render HTML)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

# A character that stripping keeps: not Unicode White_Space (what pydantic-core's strip removes),
# spelled out because ``\s`` means other sets in other regular-expression dialects.
_KEPT = r"[^\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_NAMES = {"Cc": "a control character", "Cf": "an invisible formatting character (bidi or zero-width)",
          "Cs": "a lone surrogate", "Co": "a private-use character", "Cn": "an unassigned character",
          "Zl": "a line separator", "Zp": "a paragraph separator"}


def _refuse(kind: str, ch: str, at: int) -> PydanticCustomError:
    return PydanticCustomError("text_character", "must not contain {kind} (U+{code} at position {at})",
                               {"kind": kind, "code": f"{ord(ch):04X}", "at": at})


@dataclass(frozen=True, slots=True)
class Text:
    """A text field: ``Annotated[str, Text(max_length=200)]``. ``multiline`` allows line
    feeds; ``name`` refuses symbols and requires a letter or digit."""

    max_length: int
    min_length: int = 1
    multiline: bool = False
    name: bool = False
    pattern: str | None = None
    """A regular expression the stripped text must match (also in the JSON Schema)."""

    def clean(self, value: str) -> str:
        if self.multiline:
            value = value.replace("\r\n", "\n").replace("\r", "\n")
        value = unicodedata.normalize("NFC", value) if not value.isascii() else value
        visible = False
        for at, ch in enumerate(value):
            if ch == "\n" and self.multiline:
                continue
            if " " <= ch <= "~":  # printable ASCII: the common case
                visible = visible or ch.isalnum()
                if self.name and not (ch.isalnum() or ch in " -'.,&()"):
                    raise PydanticCustomError("text_name", "a name must not contain {char} (position {at})",
                                              {"char": repr(ch), "at": at})
                continue
            category = unicodedata.category(ch)
            if category in REFUSED_CATEGORIES:
                raise _refuse(_NAMES[category], ch, at)
            if self.name and category[0] == "S":
                raise PydanticCustomError("text_name", "a name must not contain symbols such as {char} (position {at})",
                                          {"char": repr(ch), "at": at})
            visible = visible or category[0] in "LN"
        if self.name and not visible:
            raise PydanticCustomError("text_name", "a name must contain a letter or a digit", {})
        return value

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        # The length counts after stripping: the schema says so with a pattern (unanchored, as JSON
        # Schema patterns are): at least min_length characters from the first to the last visible one.
        json_schema = handler(schema)
        n = self.min_length
        if n >= 1 and "pattern" not in json_schema:
            json_schema["pattern"] = _KEPT if n == 1 else rf"{_KEPT}[\s\S]{{{n - 2},}}{_KEPT}"
        return json_schema

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        # the length is checked (after stripping) before the characters are looked at
        return core_schema.no_info_after_validator_function(
            self.clean, core_schema.str_schema(strip_whitespace=True, min_length=self.min_length,
                                               max_length=self.max_length, pattern=self.pattern))


def Name(max_length: int, min_length: int = 1) -> Text:
    """A name (company, person): one line, letters/digits/marks/punctuation/spaces, no symbols."""
    return Text(max_length, min_length, name=True)


def Line(max_length: int, min_length: int = 1, pattern: str | None = None) -> Text:
    """One line of free text (an address, a business scope item, a reason); ``pattern``: a
    format it must have (an email address, a time range)."""
    return Text(max_length, min_length, pattern=pattern)


def Paragraph(max_length: int, min_length: int = 1) -> Text:
    """Free text that may span lines (``\\n``)."""
    return Text(max_length, min_length, multiline=True)


# Identifiers and short keys that requests carry (case numbers, material ids, user ids).
Key = Annotated[str, Line(64)]


class RequestModel(BaseModel):
    """Base of every request body: unknown fields are refused (a misspelling is an error,
    not a silently ignored key)."""

    model_config = ConfigDict(extra="forbid")


__all__ = ["REFUSED_CATEGORIES", "Key", "Line", "Name", "Paragraph", "RequestModel", "Text"]
