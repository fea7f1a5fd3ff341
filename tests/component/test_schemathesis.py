"""Schemathesis against every service's live OpenAPI document (issue 10, item 8): each
operation with generated requests and a valid token of a role that may call it, all checks
on (no 5xx, status codes, content types, response schemas and headers as documented). The
app runs in-process under uvicorn on loopback (its lifespan: the real broker and database)."""

from __future__ import annotations

import importlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from devstack import catalog
from servicekit.auth import Role
from servicekit.config import load
from tests.support.auth import bearer

# Rules no JSON Schema states, each refused with its own error type and described in the API
# document: a 422 for schema-valid data is right when every error it names is one of these.
BEYOND_SCHEMA = {
    "id_number": "GB 11643: check character, date of birth, a region code of any year",
    "uscc": "GB 32100: both check characters",
    "division_code": "GB/T 2260: the code list of any year",
    "form_rule": "rules across fields (contributions add up to the capital, one seal once, ...)",
    "text_character": "control, bidi, zero-width, private-use and unassigned characters (servicekit.text)",
    "text_name": "a name has a letter or digit and no symbols (servicekit.text)",
    "decimal_max_places": "an amount sent as a JSON number has at most 4 decimals",
    "decimal_max_digits": "an amount sent as a JSON number has at most 12 digits (8 + 4 decimals)",
    "range_order": "a time range ends after it starts",
    "role_rule": "a field the caller's role must give (window staff name the applicant)",
    "token": "a rating link's token: signed by ratings, unexpired, unused, for its case",
    "check_character": "ISO 7064 Mod 11,2: a card serial's check character",
    "unknown_reference": "a body naming a record that does not exist (a window, an issued card)",
    "roster_rule": "a staff member named with a window works there",
    "catalogue": "names and field types from approvals' stage catalogue (data: it changes without a code change)",
    "content_hash": "a material's bytes hash to the sha256 declared with them",
    "outbound_policy": "a URL others will be sent requests at must be public https (servicekit.outbound: SSRF)",
}


@schemathesis.check
def valid_data_accepted(ctx, response, case) -> bool | None:
    """schemathesis's positive_data_acceptance, except a 422 naming only rules beyond the schema."""
    if response.status_code == 422:
        try:
            types = {e.get("type") for e in response.json().get("errors", [])}
        except ValueError:
            types = set()
        if types and types <= BEYOND_SCHEMA.keys():
            return None
        raise AssertionError(f"schema-valid data refused for rules {sorted(map(str, types - BEYOND_SCHEMA.keys()))}: "
                             f"{response.text[:600]}")
    return positive_data_acceptance(ctx, response, case)


CHECKS = [valid_data_accepted, negative_data_rejection, not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]
# the role each service's routes are exercised with (operators may call most routes)
ROLE = {"registration": (Role.WINDOW_STAFF, {}), "notifications": (Role.OPERATOR, {}), "approvals": (Role.WINDOW_STAFF, {}),
        "ratings": (Role.OPERATOR, {})}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(params=catalog.names())
def live(request, infra_env, unique) -> Iterator[tuple[str, str]]:
    service = request.param
    pkg = catalog.get(service).package
    config = importlib.import_module(f"{pkg}.config")
    app = importlib.import_module(f"{pkg}.bootstrap").create_app(
        load(config.Settings, mongodb_database=f"st_{service}_{unique}"))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 90
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), f"{service} did not start"
        time.sleep(0.1)
    try:
        yield service, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(60)


def test_schemathesis(live) -> None:
    service, base = live
    role, claims = ROLE.get(service, (Role.OPERATOR, {}))
    headers = bearer(f"st-{service}", role, **claims)
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    cases, failures = 0, []
    for operation in schema.get_all_operations():
        op = operation.ok()
        ran, failed = cases, len(failures)

        @settings(max_examples=int(os.environ.get("SCHEMATHESIS_EXAMPLES", "25")), derandomize=True, deadline=None, database=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        def run(case) -> None:
            nonlocal cases
            cases += 1
            try:
                # a key is for one request: a reused key with another body is refused (422, decision 15)
                if case.headers and "Idempotency-Key" in case.headers:
                    case.headers["Idempotency-Key"] = str(uuid.uuid4())
                case.call_and_validate(base_url=base, headers=headers, checks=CHECKS)
            except Exception as exc:  # collect every operation's failure, report all at once
                failures.append(f"{case.method} {case.formatted_path}: {str(exc)[:400]}")
                raise

        try:
            given(case=op.as_strategy())(run)()
        except Exception as exc:  # a case's failure is recorded by run; anything else is a failure too
            if len(failures) == failed:
                failures.append(f"{op.method.upper()} {op.path}: could not run: {type(exc).__name__}: {exc}"[:400])
        if cases == ran:
            failures.append(f"{op.method.upper()} {op.path}: no case was run")
    print(f"schemathesis {service}: {cases} cases, {len(failures)} failures")
    assert failures == [], "\n".join(failures[:20])
    assert httpx.get(f"{base}/healthz").status_code == 200
