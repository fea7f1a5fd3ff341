"""Strict requests (issue 10, decision 19): unknown fields, unsanitised text, unbounded lists,
maps, amounts and bodies are refused with one problem+json shape; the services in-process
over HTTP on the real broker and database."""

from __future__ import annotations

import json

import httpx

from notifications.bootstrap import create_app as notifications_app
from registration.bootstrap import create_app as registration_app
from servicekit.auth import Role
from tests.support.apps import running
from tests.support.auth import bearer
from tests.support.forms import company_form

APPLICANT = bearer("u-strict", Role.APPLICANT)
STAFF = bearer("w-strict", Role.WINDOW_STAFF)
OPERATOR = bearer("op-strict", Role.OPERATOR)
PROBLEM = "application/problem+json"


def agency(agency_id: str) -> dict[str, str]:
    return bearer(f"sys-{agency_id}", Role.PARTNER_AGENCY, agency_id=agency_id)


def problem(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM), r.headers
    body = r.json()
    assert body["status"] == status and body["type"] == "about:blank" and body["detail"]
    return body


def fields(body: dict) -> set[str]:
    return {e["field"] for e in body.get("errors", [])}


async def raw_get(client: httpx.AsyncClient, path: str) -> tuple[int, dict[bytes, bytes], bytes]:
    """GET through the client's ASGI app directly, for targets httpx will not send."""
    app = client._transport.app  # type: ignore[attr-defined]
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    await app({"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
               "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
               "headers": [(b"host", b"test")], "client": ("127.0.0.1", 1), "server": ("test", 80)}, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], dict(start["headers"]), b"".join(m.get("body", b"") for m in sent[1:])


def person(name: str, **kw):
    form = company_form()
    return {**form["legal_representative"], "name": name, **kw}


# (what the issue tried, form overrides, the field named in the answer)
UNSANITISED = [
    ("NUL in the company name", {"company_name": "兰州\x00一窗科技有限公司"}, "form.company_name"),
    ("ESC sequence in the company name", {"company_name": "\x1b[31m兰州一窗科技有限公司\x1b[0m"}, "form.company_name"),
    ("C1 control in the company name", {"company_name": "兰州\x85一窗科技有限公司"}, "form.company_name"),
    ("U+202E in a person's name", {"legal_representative": person("张\u202e三")}, "form.legal_representative.name"),
    ("bidi isolate in the address", {"address": {"division_code": "620102", "detail": "兰州市\u2066城关区张掖路1号"}},
     "form.address.detail"),
    ("zero-width space in the address", {"address": {"division_code": "620102", "detail": "兰州市城关区\u200b张掖路1号"}},
     "form.address.detail"),
    ("BOM in a scope item", {"business_scope": ["\ufeff软件开发"]}, "form.business_scope.0"),
    ("newline in a name", {"legal_representative": person("张\n三")}, "form.legal_representative.name"),
    ("emoji in the company name", {"company_name": "兰州一窗😀科技有限公司"}, "form.company_name"),
    ("markup in the company name", {"company_name": "<script>alert(1)</script>"}, "form.company_name"),
    ("whitespace-only company name", {"company_name": "      "}, "form.company_name"),
    ("ideographic-space-only company name", {"company_name": "\u3000" * 6}, "form.company_name"),
    ("punctuation-only company name", {"company_name": "（）（）——"}, "form.company_name"),
    ("100 KB business scope item", {"business_scope": ["a" * 100_000]}, "form.business_scope.0"),
    ("10,000 materials", {"materials": ["a"] * 10_000}, "form.materials"),
    ("9,999,999,999 万元", {"registered_capital": "9999999999"}, "form.registered_capital"),
]


async def test_unsanitised_and_unbounded_form_text_is_refused(reg_settings):
    async with running(registration_app(reg_settings)) as reg:
        for what, overrides, field in UNSANITISED:
            r = await reg.post("/cases", json={"form": company_form(**overrides)}, headers=APPLICANT)
            body = problem(r, 422)
            assert field in fields(body), (what, body)
            assert body["title"] == "Unprocessable Content" and body["code"] == "InvalidRequest", what
        # markup is data, not a control character: stored as typed, returned inside JSON
        form = company_form("兰州一窗标记科技有限公司",
                            address={"division_code": "620102", "detail": "张掖路1号 <script>alert(1)</script>"})
        r = await reg.post("/cases", json={"form": form}, headers=APPLICANT)
        assert r.status_code == 201, r.text
        stored = await reg.kit.db["cases"].find_one({"_id": r.json()["case_number"]})
        doc = json.dumps(stored, default=str, ensure_ascii=False) if stored else ""
        assert "<script>alert(1)</script>" in doc or stored is None
        # surrounding whitespace is stripped before the name is stored
        r = await reg.post("/cases", json={"form": company_form("  兰州一窗空格科技有限公司\u3000")}, headers=APPLICANT)
        assert r.status_code == 201 and r.json()["company_name"] == "兰州一窗空格科技有限公司", r.text


async def test_unknown_fields_and_oversized_bodies_are_refused(reg_settings):
    async with running(registration_app(reg_settings)) as reg:
        r = await reg.post("/cases", json={"form": company_form("兰州一窗严格科技有限公司")}, headers=APPLICANT)
        assert r.status_code == 201, r.text
        case = r.json()["case_number"]

        # a misspelled window-check key names the field and accepts nothing
        r = await reg.post(f"/cases/{case}/window-check", headers=STAFF,
                           json={"defect": [{"field": "company_name", "reason": "模糊"}]})
        body = problem(r, 422)
        assert fields(body) == {"defect"} and "defect" in body["detail"]
        assert (await reg.get(f"/cases/{case}", headers=APPLICANT)).json()["status"] == "submitted"

        # unknown fields at the top and inside the form
        r = await reg.post("/cases", json={"form": company_form(), "junk": 1}, headers=APPLICANT)
        assert fields(problem(r, 422)) == {"junk"}
        r = await reg.post("/cases", json={"form": company_form(extra_field=1)}, headers=APPLICANT)
        assert fields(problem(r, 422)) == {"form.extra_field"}
        r = await reg.post(f"/cases/{case}/materials", json={"materials": ["x"] * 51}, headers=APPLICANT)
        assert fields(problem(r, 422)) == {"materials"}

        # a 5 MB body: 413 before it is read, with or without Content-Length
        junk = json.dumps({"form": company_form(), "junk": "x" * 5_000_000}).encode()
        r = await reg.post("/cases", content=junk, headers=APPLICANT | {"content-type": "application/json"})
        assert problem(r, 413)["title"] == "Content Too Large"

        async def chunks():
            for i in range(0, len(junk), 64 * 1024):
                yield junk[i:i + 64 * 1024]

        r = await reg.post("/cases", content=chunks(), headers=APPLICANT | {"content-type": "application/json"})
        assert "content-length" not in r.request.headers
        assert problem(r, 413)["title"] == "Content Too Large"

        # malformed JSON: a readable message with the position, not "Invalid fields: 9"
        r = await reg.post("/cases", content=b'{"form": {\n  "company_name": ,}}', headers=APPLICANT |
                           {"content-type": "application/json"})
        body = problem(r, 422)
        assert body["code"] == "MalformedJSON" and "Invalid fields" not in body["detail"]
        assert "not valid JSON" in body["detail"] and "line 2 column 19" in body["detail"], body

        # a 70 KB path: 414 problem+json from the app (httpx refuses to send it: straight to the app)
        status, headers, content = await raw_get(reg, "/cases/" + "x" * 70_000)
        assert (status, headers[b"content-type"]) == (414, PROBLEM.encode())
        assert json.loads(content)["title"] == "URI Too Long"

        # titles are HTTP reason phrases; the domain error is the code
        body = problem(await reg.get("/cases/QY-NOPE", headers=APPLICANT), 404)
        assert (body["title"], body["code"]) == ("Not Found", "NotFound")
        body = problem(await reg.get(f"/cases/{case}"), 401)
        assert body["title"] == "Unauthorized"


async def test_agency_entitlements_and_subscriptions_are_strict(ntf_settings, unique):
    async with running(notifications_app(ntf_settings)) as ntf:
        agency_id = f"strict-{unique}"
        r = await ntf.put(f"/agencies/{agency_id}", json={"departments": ["tax"], "personal_data": False},
                          headers=OPERATOR)
        assert r.status_code == 200, r.text
        before = r.json()
        # an unknown field: 422, and the entitlements stay as they were
        r = await ntf.put(f"/agencies/{agency_id}", json={"personal_data": True, "departmens": ["market"]},
                          headers=OPERATOR)
        assert fields(problem(r, 422)) == {"departmens"}
        assert (await ntf.get(f"/agencies/{agency_id}", headers=OPERATOR)).json() == before

        base = {"event_types": ["cn.gov.lanzhou.onewindow.registration.licence-issued.v1"]}
        # a 1 MB webhook URL is over the body limit; a 3 KB one over the URL limit
        r = await ntf.post("/subscriptions", json=base | {"webhook_url": "https://a.test/" + "x" * 1_000_000},
                           headers=agency(agency_id))
        problem(r, 413)
        r = await ntf.post("/subscriptions", json=base | {"webhook_url": "https://a.test/" + "x" * 3000},
                           headers=agency(agency_id))
        assert fields(problem(r, 422)) == {"webhook_url"}
        # filters with 10,000 keys, or one key with 51 values
        r = await ntf.post("/subscriptions", json=base | {"filters": {f"k{i}": "v" for i in range(10_000)}},
                           headers=agency(agency_id))
        assert fields(problem(r, 422)) == {"filters"}
        r = await ntf.post("/subscriptions", json=base | {"filters": {"step": [f"s{i}" for i in range(51)]}},
                           headers=agency(agency_id))
        assert "filters.step.list[...]" in fields(problem(r, 422)) or problem(r, 422)
        r = await ntf.post("/subscriptions", json=base | {"filter": {"step": "tax"}}, headers=agency(agency_id))
        assert fields(problem(r, 422)) == {"filter"}
        r = await ntf.put("/preferences/me", json={"channels": ["sms"], "quiet_hour": "off"}, headers=APPLICANT)
        assert fields(problem(r, 422)) == {"quiet_hour"}


def test_a_request_line_too_long_for_the_http_server_gets_problem_json() -> None:
    """uvicorn refuses a ~70 KiB (and a 2 MB) request line before any app runs; under
    ``ow-serve`` (servicekit.server) that refusal is problem+json too, as every other."""
    import socket
    import threading
    import time

    import uvicorn
    from starlette.applications import Starlette

    from servicekit.server import ProblemHttpToolsProtocol

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(Starlette(), host="127.0.0.1", port=port, log_level="critical",
                                           http=ProblemHttpToolsProtocol))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    try:
        for size in (70_000, 2_000_000):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
                try:
                    conn.sendall(b"GET /" + b"a" * size + b" HTTP/1.1\r\nHost: x\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the server answers and closes before the whole line is sent
                reply = b""
                while chunk := conn.recv(65536):
                    reply += chunk
            head, _, body = reply.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 400 "), head
            assert b"content-type: application/problem+json" in head.lower(), head
            problem = json.loads(body)
            assert problem["status"] == 400 and problem["code"] == "MalformedRequest" and problem["detail"]
    finally:
        server.should_exit = True
        thread.join(30)
