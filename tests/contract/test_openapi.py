"""The committed OpenAPI documents are the ones the code generates."""

from __future__ import annotations

import pytest

from devstack import catalog
from devstack.openapi import OUT, document


@pytest.mark.parametrize("service", catalog.names())
def test_committed_openapi_is_current(service):
    path = OUT / f"{service}.json"
    assert path.exists(), f"docs/openapi/{service}.json is missing: run `make openapi`"
    assert path.read_text() == document(service), f"docs/openapi/{service}.json is stale: run `make openapi`"
