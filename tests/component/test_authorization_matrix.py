"""The authorization matrix (issue 10, item 9): every route of registration, notifications, approvals
(and the kit's ``/ops``) × every role, no token, an expired token and a foreign issuer's token.

A role the route allows gets past authorization: a 2xx, or a domain 4xx (404 for an id that
does not exist, 422 for an empty body), never 401/403. Any other role gets 403; no token, an
expired one and a wrong-issuer one get 401. The services in-process on the real broker and
database."""

from __future__ import annotations

from approvals.bootstrap import create_app as approvals_app
from crossregion.bootstrap import create_app as crossregion_app
from notifications.bootstrap import create_app as notifications_app
from ratings.bootstrap import create_app as ratings_app
from registration.bootstrap import create_app as registration_app
from servicekit.auth import Role
from tests.support.apps import running
from tests.support.auth import bearer, expired_bearer, foreign_issuer_bearer

AP, WS, RV, HP, SV, OV, PA, OP = (Role.APPLICANT, Role.WINDOW_STAFF, Role.REVIEWER, Role.HELPER, Role.SUPERVISOR,
                                  Role.OVERSIGHT, Role.PARTNER_AGENCY, Role.OPERATOR)
ALL = frozenset(Role)
PERSON = ALL - {PA}  # applicants and staff
PUBLIC = None  # no authentication at all
SIGNED = frozenset[Role]()  # signed by a partner center (RFC 9421): no bearer token gets in (401 for every caller)

CASE = "/cases/GS-2099-000000"
SUB = "/subscriptions/sub-missing"

# (method, path, body) → the roles that may call it
REGISTRATION: dict[tuple[str, str], frozenset[Role] | None] = {
    ("POST", "/cases"):                               frozenset({AP, WS}),
    ("POST", "/cases/changes"):                       frozenset({AP, WS}),
    ("GET", "/cases"):                                frozenset({HP, SV, WS, OP}),
    ("GET", CASE):                                    ALL,
    ("POST", f"{CASE}/window-check"):                 frozenset({WS}),
    ("POST", f"{CASE}/materials"):                    frozenset({AP, WS}),
    ("POST", f"{CASE}/steps/licence/decision"):       frozenset({RV}),
    ("POST", f"{CASE}/corrections"):                  frozenset({AP, WS}),
    ("PUT", f"{CASE}/helper"):                        frozenset({SV, WS}),
    ("GET", "/statistics?month=2099-01"):             frozenset({SV, OV, OP, WS}),
    ("GET", "/statistics/today"):                     PUBLIC,
    ("POST", "/ops/outbox/republish"):                frozenset({OP}),
    ("GET", "/ops/status"):                           frozenset({OP, SV}),
}
NOTIFICATIONS: dict[tuple[str, str], frozenset[Role] | None] = {
    ("GET", "/messages?case_number=GS-2099-000000"):  PERSON,
    ("GET", "/messages/mine"):                        PERSON,
    ("GET", "/messages/msg-missing"):                 PERSON,
    ("GET", "/preferences/me"):                       PERSON,
    ("PUT", "/preferences/me"):                       PERSON,
    ("GET", "/event-types"):                          PUBLIC,
    ("POST", "/subscriptions"):                       frozenset({PA}),
    ("GET", "/subscriptions"):                        frozenset({PA, OP}),
    ("GET", SUB):                                     frozenset({PA, OP}),
    ("POST", f"{SUB}/disable"):                       frozenset({PA, OP}),
    ("POST", f"{SUB}/enable"):                        frozenset({PA, OP}),
    ("GET", f"{SUB}/deliveries"):                     frozenset({PA, OP}),
    ("GET", f"{SUB}/events"):                         frozenset({PA, OP}),
    ("GET", "/agencies/agency-x"):                    frozenset({PA, OP}),
    ("PUT", "/agencies/agency-x"):                    frozenset({OP}),
    ("GET", "/ops/subscriptions/health"):             frozenset({OP, SV}),
    ("POST", "/ops/outbox/republish"):                frozenset({OP}),
    ("GET", "/ops/status"):                           frozenset({OP, SV}),
}
PROJECT, STAGE = "/projects/2099-620102-47-01-000000", "/stages/GC20990101DEADBEEF"
APPROVALS: dict[tuple[str, str], frozenset[Role] | None] = {
    ("POST", "/projects"):                             frozenset({AP, WS}),
    ("GET", PROJECT):                                  ALL,
    ("POST", f"{PROJECT}/materials"):                  frozenset({AP, WS}),
    ("POST", f"{PROJECT}/stages"):                     frozenset({AP, WS}),
    ("GET", f"{PROJECT}/timeline"):                    ALL,
    ("GET", "/stages"):                                frozenset({HP, SV, WS, OP}),
    ("GET", "/statistics"):                            frozenset({SV, OV, OP, WS}),
    ("GET", STAGE):                                    ALL,
    ("POST", f"{STAGE}/supplement"):                   frozenset({AP, WS}),
    ("POST", f"{STAGE}/acceptance"):                   frozenset({WS}),
    ("POST", f"{STAGE}/items/site_selection/decision"):  frozenset({RV, WS}),
    ("POST", f"{STAGE}/items/site_selection/correction"): frozenset({AP, WS}),
    ("PUT", f"{STAGE}/helper"):                        frozenset({SV, WS}),
    ("POST", "/ops/outbox/republish"):                 frozenset({OP}),
    ("GET", "/ops/status"):                            frozenset({OP, SV}),
}

STAFF = ALL - {AP, PA}
RCASE, ENTRY, REQ, MONTH = "/cases/QY2099000000", "/ledger/CP-missing", "/requests/ZX-missing", "2099-01"
RATINGS: dict[tuple[str, str], frozenset[Role] | None] = {
    ("PUT", "/windows/w-matrix"):                     frozenset({OP, SV}),
    ("GET", "/windows"):                              STAFF,
    ("GET", "/hall"):                                 PUBLIC,
    ("POST", "/ratings/by-token"):                    PUBLIC,
    ("POST", f"{RCASE}/rating"):                      frozenset({AP, WS}),
    ("GET", f"{RCASE}/rating"):                       ALL,
    ("GET", f"{RCASE}/rating/qr"):                    frozenset({WS}),
    ("POST", f"{RCASE}/rating/annulment"):            frozenset({SV}),
    ("POST", "/cards/issues"):                        frozenset({WS, SV, OP}),
    ("POST", "/cards/drops"):                         frozenset({WS, SV, OP}),
    ("POST", "/cards/returns"):                       frozenset({WS, SV, OP}),
    ("POST", "/cards/voids"):                         frozenset({WS, SV, OP}),
    ("POST", "/cards/reconciliations"):               frozenset({WS, SV, OP}),
    ("GET", "/cards/reconciliations?day=2099-01-05"): STAFF,
    ("PUT", f"/boxes/{MONTH}"):                       frozenset({OP, SV}),
    ("POST", f"/boxes/{MONTH}/votes"):                frozenset({SV, OV, OP}),
    ("POST", f"/boxes/{MONTH}/sign-offs"):            STAFF,
    ("GET", f"/boxes/{MONTH}"):                       frozenset({SV, OV, OP}),
    ("GET", "/log/verification"):                     frozenset({SV, OV, OP}),
    ("POST", "/lists"):                               frozenset({SV}),
    ("GET", "/lists/current"):                        PUBLIC,
    ("GET", f"/lists/{MONTH}"):                       STAFF,
    ("GET", "/ledger"):                               STAFF,
    ("GET", ENTRY):                                   STAFF,
    ("POST", f"{ENTRY}/callback"):                    frozenset({WS, HP, SV, OP}),
    ("POST", f"{ENTRY}/feedback"):                    frozenset({WS, HP, SV, OP}),
    ("POST", f"{ENTRY}/explanation"):                 frozenset({WS, HP, SV, OP}),
    ("POST", "/requests"):                            frozenset({AP}),
    ("GET", REQ):                                     ALL,
    ("POST", f"{REQ}/reply"):                         frozenset({RV, HP, SV}),
    ("GET", "/statistics?month=2099-01"):             frozenset({SV, OV, OP}),
    ("POST", "/ops/outbox/republish"):                frozenset({OP}),
    ("GET", "/ops/status"):                           frozenset({OP, SV}),
}
RATINGS_PATHS = {RCASE: "/cases/{case_number}", ENTRY: "/ledger/{entry_id}", REQ: "/requests/{request_id}",
                 f"/boxes/{MONTH}": "/boxes/{month}", f"/lists/{MONTH}": "/lists/{month}",
                 "/windows/w-matrix": "/windows/{window_id}"}
XCASE = "/cross-cases/620600-20990101-00000000"
CROSSREGION: dict[tuple[str, str], frozenset[Role] | None] = {
    ("POST", "/regions"):                             frozenset({OP}),
    ("GET", "/regions"):                              frozenset({OP, WS}),
    ("GET", "/regions/620600"):                       frozenset({OP, WS}),
    ("POST", "/regions/620600/keys"):                 frozenset({OP}),
    ("POST", "/cross-cases"):                         frozenset({WS}),
    ("POST", "/cross-cases/online"):                  frozenset({AP}),
    ("GET", XCASE):                                   ALL,
    ("POST", f"{XCASE}/custody"):                     frozenset({WS}),
    ("POST", f"{XCASE}/hand-out"):                    frozenset({WS}),
    ("POST", "/exchange"):                            SIGNED,
    ("GET", "/exchange/keys"):                        frozenset({OP, WS}),
    ("GET", "/ops/exchanges/backlog"):                frozenset({OP}),
    ("GET", "/ops/exchanges/audit"):                  frozenset({OP}),
    ("POST", "/ops/outbox/republish"):                frozenset({OP}),
    ("GET", "/ops/status"):                           frozenset({OP, SV}),
}


def role_header(role: Role) -> dict[str, str]:
    claims = {"department": "market"} if role is RV else {"agency_id": "agency-x"} if role is PA else {}
    return bearer(f"matrix-{role.value}", role, **claims)


CALLERS: dict[str, dict[str, str]] = {
    **{role.value: role_header(role) for role in Role},
    "no token": {},
    "expired": expired_bearer("matrix-expired", OP),
    "wrong issuer": foreign_issuer_bearer("matrix-foreign", OP),
}


def expected(allowed: frozenset[Role] | None, caller: str) -> str:
    if allowed is PUBLIC:
        return "passes"
    if allowed is SIGNED:
        return "401"
    if caller in {"no token", "expired", "wrong issuer"}:
        return "401"
    return "passes" if Role(caller) in allowed else "403"


def outcome(status: int) -> str:
    return str(status) if status in (401, 403) else "passes"


async def check(client, table) -> None:
    wrong = []
    for (method, path), allowed in table.items():
        for caller, headers in CALLERS.items():
            body = {} if method in {"POST", "PUT"} else None
            r = await client.request(method, path, headers=headers, json=body)
            assert r.status_code < 500, f"{method} {path} as {caller}: {r.status_code} {r.text}"
            want = expected(allowed, caller)
            if outcome(r.status_code) != want:
                wrong.append(f"{method} {path} as {caller}: {r.status_code}, expected {want} ({r.text[:120]})")
            if r.status_code in (401, 403):
                assert r.headers["content-type"].startswith("application/problem+json")
    assert wrong == [], "\n".join(wrong)


async def test_registration_authorization_matrix(reg_settings):
    async with running(registration_app(reg_settings)) as client:
        await check(client, REGISTRATION)


async def test_ratings_authorization_matrix(rat_settings):
    async with running(ratings_app(rat_settings)) as client:
        await check(client, RATINGS)


async def test_notifications_authorization_matrix(ntf_settings):
    async with running(notifications_app(ntf_settings)) as client:
        await check(client, NOTIFICATIONS)


async def test_approvals_authorization_matrix(apr_settings):
    async with running(approvals_app(apr_settings)) as client:
        await check(client, APPROVALS)
async def test_crossregion_authorization_matrix(infra_env, unique):
    from crossregion.config import Settings as CrossregionSettings
    from servicekit.config import load
    async with running(crossregion_app(load(CrossregionSettings, mongodb_database=f"xr_{unique}"))) as client:
        await check(client, CROSSREGION)


def test_the_matrix_covers_every_route():
    """A new route must get its row."""
    import re

    def documented(app):
        return {(m.upper(), p) for p, ops in app.openapi()["paths"].items() for m in ops
                if p not in {"/healthz", "/readyz"}}

    def rows(table):
        out = set()
        for method, path in table:
            path = path.split("?")[0]
            path = re.sub(r"^/cases/GS-2099-000000", "/cases/{case_number}", path)
            path = path.replace("/steps/licence/", "/steps/{step}/").replace(SUB, "/subscriptions/{subscription_id}")
            path = re.sub(r"/(disable|enable)$", "/{action}", path)
            path = path.replace("/messages/msg-missing", "/messages/{message_id}")
            path = path.replace("/agencies/agency-x", "/agencies/{agency_id}")
            path = path.replace(PROJECT, "/projects/{code}").replace(STAGE, "/stages/{case_number}")
            path = path.replace("/items/site_selection/", "/items/{item}/")
            path = path.replace(XCASE, "/cross-cases/{reference}").replace("/regions/620600", "/regions/{division_code}")
            out.add((method, path))
        return out

    def ratings_rows(table):
        out = set()
        for method, path in table:
            path = path.split("?")[0]
            for concrete, template in RATINGS_PATHS.items():
                if path.startswith(concrete) and path != "/lists/current":
                    path = template + path[len(concrete):]
            out.add((method, path))
        return out

    assert documented(registration_app()) == rows(REGISTRATION)
    assert documented(ratings_app()) == ratings_rows(RATINGS)
    assert documented(notifications_app()) == rows(NOTIFICATIONS)
    assert documented(approvals_app()) == rows(APPROVALS)
    assert documented(crossregion_app()) == rows(CROSSREGION)
