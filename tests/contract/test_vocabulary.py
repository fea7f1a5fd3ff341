"""The events' literal enums and the shared vocabulary name the same things."""

from __future__ import annotations

import re
import typing

from contracts import vocabulary as v
from contracts.events import registration as reg


def test_event_literals_match_the_vocabulary() -> None:
    assert set(typing.get_args(reg.Step)) == {s.value for s in v.Step}
    assert set(typing.get_args(reg.Department)) == {d.value for d in v.Department}
    assert set(v.STEP_DEPARTMENT) == set(v.Step) and set(v.STEP_NAMES) == set(v.Step)
    assert set(v.DEPARTMENT_NAMES) == set(v.Department)


def test_formats() -> None:
    assert re.match(v.PHONE_PATTERN, "13912345678") and not re.match(v.PHONE_PATTERN, "12912345678")
    assert re.match(v.DIVISION_CODE_PATTERN, "620102") and not re.match(v.DIVISION_CODE_PATTERN, "62010")
    assert re.match(v.USCC_PATTERN, "91620102MA74XJ1X7W") and not re.match(v.USCC_PATTERN, "91620102MA74XJ1X7")
