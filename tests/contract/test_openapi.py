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
    """Every POST/PUT/PATCH/DELETE goes through the kit's ``Once`` (which documents the header),
    except a public one (no login, no ``security``: there is no caller to key on; its domain
    answers a retry with the first answer, e.g. ratings' rating by token)."""
    paths = json.loads(document(service))["paths"]
    missing = [f"{method.upper()} {path}" for path, ops in paths.items() for method, op in ops.items()
               if method in {"post", "put", "patch", "delete"} and op.get("security") and "x-idempotent-on" not in op
               and not any(p["in"] == "header" and p["name"] == "Idempotency-Key" for p in op.get("parameters", []))]
    assert missing == [], f"state-changing routes without `once: Once`: {missing}"


def _operations(service: str):
    doc = json.loads(document(service))
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            yield f"{method.upper()} {path}", op


@pytest.mark.parametrize("service", catalog.names())
def test_errors_are_documented_as_problem_json(service):
    """Every secured operation documents 401 (and 403 when limited to roles), every operation
    with parameters or a body 422, each as application/problem+json with the one Problem schema;
    FastAPI's HTTPValidationError (application/json, never sent) is nowhere."""
    text = document(service)
    assert "HTTPValidationError" not in text and '"ValidationError"' not in text
    doc = json.loads(text)
    assert set(doc["components"]["schemas"]["Problem"]["properties"]) >= {
        "type", "title", "status", "detail", "instance", "code", "errors"}
    wrong = []
    for name, op in _operations(service):
        responses = op["responses"]
        expected = set()
        if op.get("security"):
            expected |= {"401", "403", "503"}
        if op.get("parameters") or op.get("requestBody"):
            expected.add("422")
        if op.get("requestBody"):
            expected.add("413")
        expected.add("414")
        wrong += [f"{name} {status} undocumented" for status in sorted(expected - set(responses))]
        for status, resp in responses.items():
            if status.startswith("4") or (status == "503" and op.get("security")):
                content = resp.get("content", {})
                if list(content) != ["application/problem+json"] or \
                        content["application/problem+json"]["schema"] != {"$ref": "#/components/schemas/Problem"}:
                    wrong.append(f"{name} {status} is not problem+json: {list(content)}")
    assert wrong == []


def test_path_parameters_with_fixed_values_are_enums():
    ops = dict(_operations("notifications"))
    action = next(p for p in ops["POST /subscriptions/{subscription_id}/{action}"]["parameters"]
                  if p["name"] == "action")
    assert action["schema"]["enum"] == ["enable", "disable"]
    step = next(p for p in dict(_operations("registration"))["POST /cases/{case_number}/steps/{step}/decision"]
                ["parameters"] if p["name"] == "step")
    assert "$ref" in step["schema"] or "enum" in step["schema"]
