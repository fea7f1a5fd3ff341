"""Unified social credit codes (GB 32100-2015): real published codes, one-character
changes, and the codes the service generates."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registration.domain.codes import make_uscc, validate_uscc

# Codes published on the business licences of well-known companies.
REAL_CODES = [
    "91330100716105852F",  # Alibaba (China) Co., Ltd.
    "9144030071526726XG",  # Shenzhen Tencent Computer Systems Co., Ltd.
    "914403001922038216",  # Huawei Technologies Co., Ltd.
    "91110000802100433B",  # China Petroleum & Chemical Corporation (Sinopec)
    "91110000600037341L",  # example from python-stdnum's documentation
]
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


@pytest.mark.parametrize("code", REAL_CODES)
def test_real_codes_are_valid(code):
    assert validate_uscc(code) == code


@pytest.mark.parametrize("code", REAL_CODES)
def test_any_single_character_changed_is_invalid(code):
    for i, ch in enumerate(code):
        for other in ALPHABET[:: 5]:
            if other == ch:
                continue
            changed = code[:i] + other + code[i + 1:]
            with pytest.raises(ValueError):
                validate_uscc(changed)


@pytest.mark.parametrize("bad", ["", "9133010071610585", "91330100716105852F0", "91330100716105852I", "A1330100716105852F"])
def test_malformed_codes_are_invalid(bad):
    with pytest.raises(ValueError):
        validate_uscc(bad)


@given(st.sampled_from(["620102", "620103", "110105", "440305"]), st.integers(min_value=1, max_value=31**6 - 1))
def test_generated_codes_are_valid_and_carry_the_division(division, seq):
    code = make_uscc(division, seq)
    assert validate_uscc(code) == code
    assert code[:2] == "91" and code[2:8] == division and code[8:10] == "MA"


def test_generated_codes_are_unique_per_sequence():
    codes = {make_uscc("620102", n) for n in range(1, 5000)}
    assert len(codes) == 4999


def test_sequence_exhaustion_is_an_error():
    with pytest.raises(ValueError):
        make_uscc("620102", 31**6)
