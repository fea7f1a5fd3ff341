"""Resident ID numbers (GB 11643); their region codes are checked against the division code
list (GB/T 2260) of ``contracts.codes``, shared with every service.

The code list is python-stdnum's ``cn/loc`` data: every code with the years it was in use.
A code counts if it exists in ANY year: a resident ID number keeps the code it was issued
under (often long after birth, and codes are re-used and retired), so stdnum's own rule
(the code must exist in the birth year) refuses real people."""

from __future__ import annotations

import datetime as dt

from stdnum.cn import ric

from contracts.codes import division_codes, division_problem

__all__ = ["EARLIEST_BIRTH_YEAR", "division_codes", "division_problem", "id_number_problems"]

EARLIEST_BIRTH_YEAR = 1900


def id_number_problems(value: str, today: dt.date) -> list[str]:
    """Everything wrong with a resident ID number (upper-cased, stripped), or []: 18 characters
    (17 digits, then a digit or X), the check character, a birth date from 1900 up to
    ``today``, a region code that exists in some year of GB/T 2260."""
    if len(value) != 18:
        return [f"must be 18 characters, not {len(value)} (GB 11643)"]
    if not value[:17].isdigit() or not (value[17].isdigit() or value[17] == "X"):
        return ["17 digits then a digit or X (GB 11643)"]
    problems = []
    if ric.calc_check_digit(value) != value[17]:
        problems.append("wrong check character (GB 11643): a character is mistyped")
    try:
        born = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        problems.append(f"birth date {value[6:14]} is not a date")
    else:
        if born > today:
            problems.append(f"birth date {born.isoformat()} is in the future")
        elif born.year < EARLIEST_BIRTH_YEAR:
            problems.append(f"birth date {born.isoformat()} is before {EARLIEST_BIRTH_YEAR}")
    if value[:6] not in division_codes():
        problems.append(f"region code {value[:6]} is not an administrative division code (GB/T 2260, any year)")
    return problems
