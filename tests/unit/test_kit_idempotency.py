"""The kit's Idempotency-Key header: what a key is, and when two requests are the same."""

from __future__ import annotations

import pytest

from servicekit.idempotency import fingerprint, parse_key
from servicekit.problems import Problem


def test_keys_and_fingerprints() -> None:
    assert parse_key('"8e03978e-40d5"') == parse_key("8e03978e-40d5") == "8e03978e-40d5"
    for bad in ("", '""', "x" * 256, "tab\there"):
        with pytest.raises(Problem):
            parse_key(bad)
    assert fingerprint("", b'{"a": 1, "b": [2]}') == fingerprint("", b'{"b":[2],"a":1}')  # JSON by value
    assert fingerprint("", b'{"a": 1}') != fingerprint("", b'{"a": 2}')
    assert fingerprint("view=x&n=1", b"") == fingerprint("n=1&view=x", b"") != fingerprint("n=2&view=x", b"")
