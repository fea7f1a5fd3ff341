"""servicekit.text: the one annotated text type of every request (decision 19)."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import BaseModel, Field, ValidationError

from servicekit.text import Line, Name, Paragraph, RequestModel


class Form(BaseModel):
    name: Annotated[str, Name(max_length=20, min_length=2)] = "张三"
    line: Annotated[str, Line(max_length=20)] = "x"
    text: Annotated[str, Paragraph(max_length=50)] = "x"


def refused(**kw: str) -> str:
    with pytest.raises(ValidationError) as err:
        Form(**kw)
    [error] = err.value.errors()
    return f"{error['type']}: {error['msg']}"


@pytest.mark.parametrize("ch", ["\x00", "\x1b", "\x07", "\t", "\x7f", "\x85", "\x9b"])
def test_control_characters_are_refused(ch):
    assert refused(line=f"a{ch}b").startswith("text_character: must not contain a control character")


@pytest.mark.parametrize("ch", [*map(chr, range(0x202A, 0x202F)), *map(chr, range(0x2066, 0x206A)),
                                "\u200e", "\u200f", "\u061c", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff",
                                "\u00ad"])
def test_bidi_and_zero_width_characters_are_refused(ch):
    assert f"U+{ord(ch):04X}" in refused(line=f"a{ch}b")


@pytest.mark.parametrize("ch", ["\u2028", "\u2029", "\ue000", "\U000e0041", "\U0010ffff"])
def test_separators_private_use_tags_and_unassigned_are_refused(ch):
    assert refused(line=f"a{ch}b").startswith("text_character")


def test_lone_surrogates_are_refused():
    assert refused(line="a\ud800b").startswith("string_unicode")


def test_newlines_only_in_paragraphs_normalised():
    assert refused(line="a\nb").startswith("text_character")
    assert refused(name="张\n三").startswith("text_character")
    assert Form(text="一\r\n二\r三\n").text == "一\n二\n三"


def test_surrounding_whitespace_is_stripped_before_the_length_is_checked():
    assert Form(name="\u3000 张三 \u3000", line="  x  ").model_dump()["name"] == "张三"
    assert Form(line=" " * 100 + "x").line == "x"
    assert refused(line="x" * 21).startswith("string_too_long")


def test_text_is_nfc_normalised():
    assert Form(name="Jose\u0301").name == "Jos\u00e9"


@pytest.mark.parametrize("name", ["   ", "\u3000\u3000\u3000", "--", "（）"])
def test_names_need_a_letter_or_digit(name):
    assert refused(name=name).startswith(("string_too_short", "text_name"))


@pytest.mark.parametrize("name", ["张😀三", "<b>张三</b>", "张=三", "a+b"])
def test_names_refuse_symbols(name):
    assert refused(name=name).startswith("text_name")


@pytest.mark.parametrize("name", ["买买提·艾力", "O'Brien-Smith", "Jean Dupont", "李 四", "兰州（一窗）有限公司"])
def test_real_names_pass(name):
    assert Form(name=name).name == name


def test_markup_is_data_in_free_text():
    assert Form(line="<script>1</script>").line == "<script>1</script>"
    assert Form(text="a < b & c > d 😀").text == "a < b & c > d 😀"


def test_request_models_refuse_unknown_fields():
    class Body(RequestModel):
        defects: list[str] = Field(default_factory=list)

    with pytest.raises(ValidationError) as err:
        Body.model_validate({"defect": ["x"]})
    assert err.value.errors()[0]["type"] == "extra_forbidden" and err.value.errors()[0]["loc"] == ("defect",)


def test_the_schema_documents_the_limits():
    props = Form.model_json_schema()["properties"]
    assert (props["name"]["minLength"], props["name"]["maxLength"]) == (2, 20)
