"""Honest OpenAPI documents: every operation documents the problem+json errors it can answer,
with one ``Problem`` schema, in place of FastAPI's default ``422 HTTPValidationError``
(``application/json``), which no service ever sends.

``create_app`` calls :func:`document_problems` on the generated document. What each
operation can answer is read from the route itself:

- **401** (no, expired or invalid token) and **503** (the issuer's keys cannot be fetched,
  or the database does not answer) when it authenticates (``current_principal``);
- **403** when it is limited to some roles (``require``), or a domain error maps to 403;
- **404** when it has path parameters (nothing by that id);
- **409** when it changes state (``Once``: a retry in flight; a concurrent update) or a
  domain error maps to 409;
- **413** when it takes a body (the request-size limit), **414** always (the target limit);
- **422** when it takes parameters or a body (each invalid field named), or a domain error
  maps to 422.

Domain errors (``domain_errors`` of ``create_app``): 404 where a path or query parameter names
something, 403 where the caller is authenticated, the others on state-changing operations only
(reads do not conflict).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI, routing
from fastapi.dependencies.models import Dependant

from servicekit.problems import PROBLEM_JSON, reason

PROBLEM_REF = "#/components/schemas/Problem"

PROBLEM_SCHEMAS: dict[str, Any] = {
    "Problem": {
        "title": "Problem",
        "description": "Problem Details (RFC 9457): every error of every service, of this one shape.",
        "type": "object",
        "required": ["type", "title", "status"],
        "properties": {
            "type": {"type": "string", "description": "A URI naming the problem type; `about:blank` here."},
            "title": {"type": "string", "description": "The HTTP reason phrase of `status` (RFC 9110)."},
            "status": {"type": "integer", "minimum": 400, "maximum": 599, "description": "The HTTP status code."},
            "detail": {"type": "string", "description": "What went wrong, readable."},
            "instance": {"type": "string", "description": "The request's path."},
            "code": {"type": "string", "description": "What went wrong, for programs (e.g. `NameTaken`, "
                                                      "`InvalidRequest`, `MalformedJSON`)."},
            "errors": {"type": "array", "items": {"$ref": "#/components/schemas/ProblemField"},
                       "description": "Each invalid field, all at once."},
        },
        "additionalProperties": True,
    },
    "ProblemField": {
        "title": "ProblemField",
        "description": "One invalid field of a request.",
        "type": "object",
        "required": ["field", "message"],
        "properties": {
            "field": {"type": "string", "description": "The field's dotted path (a header's or parameter's name)."},
            "message": {"type": "string", "description": "What is wrong with it."},
            "type": {"type": "string", "description": "The rule broken: a JSON Schema keyword's (e.g. `missing`, "
                     "`string_too_long`) or one the schema cannot state, each described at its field: `id_number` "
                     "(GB 11643 check character, date, region code), `uscc` (GB 32100 check characters), "
                     "`division_code` (GB/T 2260 code list), `form_rule` (a rule across fields), `role_rule` (a field "
                     "the caller's role must give), `catalogue` (names and field types from a service's catalogue data), "
                     "`content_hash` (bytes match their declared sha256), `text_character` / `text_name` (invisible, control or symbol "
                     "characters; a name needs a letter or digit), `decimal_max_places` / `decimal_max_digits` (an "
                     "amount's digits), `range_order` (a range ends after it starts), `token` (a signed link's "
                     "signature, expiry, single use and case), `check_character` (a serial's ISO 7064 check "
                     "character), `unknown_reference` (names a record that does not exist), `roster_rule` (a staff "
                     "member named with a window must work there)."},
        },
        "additionalProperties": True,
    },
}

_WHAT = {
    400: "The request cannot be read",
    401: "No bearer token, or an invalid, expired or foreign one",
    403: "The caller's role (or department) may not do this",
    404: "Not found",
    409: "Conflicts with the current state, or a request with this Idempotency-Key is in flight",
    413: "The request body is over the service's size limit",
    414: "The request target is over the service's size limit",
    422: "Invalid request: each invalid field named in `errors`",
    503: "Temporarily unavailable (token keys or database); retry after `Retry-After` seconds",
}
_HEADERS = {
    401: {"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}},
    409: {"Retry-After": {"description": "Seconds to wait before a retry (in flight)", "schema": {"type": "string"}}},
    503: {"Retry-After": {"description": "Seconds to wait before a retry", "schema": {"type": "string"}}},
}
_STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


def problem_response(status: int, description: str | None = None) -> dict[str, Any]:
    """The OpenAPI response object of a problem+json answer."""
    resp: dict[str, Any] = {"description": description or _WHAT.get(status, reason(status)),
                            "content": {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}}}
    if status in _HEADERS:
        resp["headers"] = _HEADERS[status]
    return resp


def _dependants(dependant: Dependant) -> Iterable[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependants(sub)


def route_problems(route: Any, domain_statuses: Iterable[int] = ()) -> set[int]:
    """The error statuses ``route`` can answer (see the module's rules)."""
    from servicekit.auth import current_principal
    from servicekit.idempotency import command

    deps = list(_dependants(route.dependant))
    calls = [d.call for d in deps]
    path, body = any(d.path_params for d in deps), any(d.body_params for d in deps)
    statuses = {414}
    if any(d.path_params or d.query_params or d.header_params or d.cookie_params or d.body_params for d in deps):
        statuses.add(422)
    if body:
        statuses.add(413)
    if path:
        statuses.add(404)
    secured = current_principal in calls
    if secured:
        statuses |= {401, 503}
    if any(getattr(c, "roles", None) is not None and not getattr(c, "everyone", False) for c in calls):
        statuses.add(403)
    changes = bool((route.methods or set()) & _STATE_CHANGING)
    query = any(d.query_params for d in deps)
    if command in calls:
        statuses.add(409)
    for status in domain_statuses:
        if (status == 404 and not (path or query)) or (status == 403 and not secured):
            continue  # nothing named to be missing; nobody to refuse
        if status in (403, 404) or changes:
            statuses.add(status)
    return statuses


def document_problems(app: FastAPI, schema: dict[str, Any], domain_statuses: Iterable[int] = (),
                      kit_paths: Iterable[str | None] = ()) -> dict[str, Any]:
    """Document each operation's problem+json errors in ``schema`` (``app.openapi()``'s), drop
    FastAPI's ``HTTPValidationError``; the kit's own routes (``kit_paths``) get no domain errors."""
    domain, kit = sorted(set(domain_statuses)), set(kit_paths)
    paths = schema.get("paths", {})
    for route in routing.iter_route_contexts(app.routes):  # the routes of included routers too
        if not isinstance(route.original_route, routing.APIRoute) or not route.include_in_schema \
                or route.path_format not in paths:
            continue
        statuses = route_problems(route, () if route.path_format in kit else domain)
        for method in route.methods or ():
            op = paths[route.path_format].get(method.lower())
            if op is None:
                continue
            responses = op.setdefault("responses", {})
            for status in sorted(statuses):
                responses[str(status)] = problem_response(status)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    components.update(PROBLEM_SCHEMAS)
    _key_patterns(components)
    return schema


def _key_patterns(node: Any) -> None:
    """pydantic states a map's key pattern as ``patternProperties``, which leaves every other key
    valid; the service refuses those. Say so: ``propertyNames`` carries the pattern and
    ``additionalProperties`` the value schema."""
    if isinstance(node, dict):
        pattern_props = node.get("patternProperties")
        if isinstance(pattern_props, dict) and len(pattern_props) == 1 and "additionalProperties" not in node:
            (pattern, value), = pattern_props.items()
            del node["patternProperties"]
            node["propertyNames"] = {**node.get("propertyNames", {}), "pattern": pattern}
            node["additionalProperties"] = value
        for child in node.values():
            _key_patterns(child)
    elif isinstance(node, list):
        for child in node:
            _key_patterns(child)


__all__ = ["PROBLEM_SCHEMAS", "document_problems", "problem_response", "route_problems"]
