"""Unified social credit code (统一社会信用代码, GB 32100-2015).

18 characters: registration authority (1), entity category (1), administrative
division (6), organisation code (9, GB 11714 with its own check character), and a
check character over the 17 before it (alphabet without I, O, Z, S, V)."""

from __future__ import annotations

from stdnum.cn import uscc as _uscc

from contracts.codes import organisation_check, validate_uscc  # one validator for every service

_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 32100 characters (31)

MARKET_SUPERVISION = "9"  # registration authority: 工商 / market supervision
ENTERPRISE = "1"  # category under authority 9: 企业
INDIVIDUAL_BUSINESS = "2"  # 个体工商户


def _base31(n: int, width: int) -> str:
    digits = []
    for _ in range(width):
        n, r = divmod(n, len(_ALPHABET))
        digits.append(_ALPHABET[r])
    if n:
        raise ValueError("sequence exhausted for this division")
    return "".join(reversed(digits))


def make_uscc(division_code: str, sequence: int, *, authority: str = MARKET_SUPERVISION,
              category: str = ENTERPRISE) -> str:
    """The code for the ``sequence``-th entity registered in ``division_code``.

    Organisation code bodies start with "MA" like those issued since 2015 and are
    unique per division as long as ``sequence`` is."""
    if len(division_code) != 6 or not division_code.isdigit():
        raise ValueError("division code must be 6 digits")
    body = "MA" + _base31(sequence, 6)
    org = body + organisation_check(body)
    head = authority + category + division_code + org
    return head + _uscc.calc_check_digit(head)


__all__ = ["ENTERPRISE", "INDIVIDUAL_BUSINESS", "MARKET_SUPERVISION", "make_uscc", "organisation_check", "validate_uscc"]
