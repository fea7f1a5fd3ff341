"""The committed OpenAPI documents are the ones the code generates."""

from __future__ import annotations

import json

import pytest

from devstack import catalog
from devstack.openapi import OUT, document


@pytest.mark.parametrize("service", catalog.names())
def test_committed_openapi_is_current(service):
    path = OUT / f"{service}.json"
    assert path.exists(), f"docs/openapi/{service}.json is missing: run `make openapi`"
    assert path.read_text() == document(service), f"docs/openapi/{service}.json is stale: run `make openapi`"


@pytest.mark.parametrize("service", catalog.names())
def test_every_state_changing_route_documents_the_idempotency_key(service):
    """Every POST/PUT/PATCH/DELETE goes through the kit's ``Once`` (which documents the header)."""
    paths = json.loads(document(service))["paths"]
    missing = [f"{method.upper()} {path}" for path, ops in paths.items() for method, op in ops.items()
               if method in {"post", "put", "patch", "delete"}
               and not any(p["in"] == "header" and p["name"] == "Idempotency-Key" for p in op.get("parameters", []))]
    assert missing == [], f"state-changing routes without `once: Once`: {missing}"
