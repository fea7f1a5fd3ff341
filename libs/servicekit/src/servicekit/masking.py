"""Masking of personal data in free text: Chinese resident ID numbers and mainland
mobile numbers. Pure (stdlib only), so domain code may use it too."""

from __future__ import annotations

import re

# Chinese resident ID (18 chars, last may be X) and mainland mobile numbers.
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[\dXx])(?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")


def mask_personal_data(text: str) -> str:
    """Mask ID numbers (keep the first 6 and last 4) and mobile numbers (keep 3 + 4)."""
    text = _ID_NUMBER.sub(lambda m: f"{m.group(1)}********{m.group(2)}", text)
    return _MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(2)}", text)


__all__ = ["mask_personal_data"]
