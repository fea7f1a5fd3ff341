"""The development issuer's login: OIDC authorization code with PKCE (S256), for the console.

A real server thread on loopback, driven with httpx as a browser and a console would."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

from devstack.issuer import LocalIssuer, load_users
from devstack.stack import StackConfig, procfile_lines
from ratings.domain.cards import OVERSIGHT_BODIES

ROOT = Path(__file__).resolve().parents[2]
CALLBACK = "http://127.0.0.1:8010/auth/callback"
PASSWORD = "test-password"


@pytest.fixture
def issuer(tmp_path: Path) -> Iterator[LocalIssuer]:
    issuer = LocalIssuer(tmp_path / "keys", "http://127.0.0.1", clients={"console": [CALLBACK]},
                         users=ROOT / "config" / "dev-users.toml", password=PASSWORD).ensure()
    srv = issuer.serve_in_thread()
    yield issuer
    srv.shutdown()
    srv.server_close()


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def params(challenge: str, **over: str) -> dict[str, str]:
    return {"response_type": "code", "client_id": "console", "redirect_uri": CALLBACK, "state": "s-123",
            "code_challenge": challenge, "code_challenge_method": "S256", **over}


def log_in(issuer: LocalIssuer, challenge: str, username: str = "supervisor1", password: str = PASSWORD,
           **over: str) -> httpx.Response:
    return httpx.post(issuer.issuer + "/authorize", data={**params(challenge, **over), "username": username,
                                                           "password": password})


def code_of(resp: httpx.Response) -> str:
    assert resp.status_code == 302, resp.text
    location = urlsplit(resp.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
    query = parse_qs(location.query)
    assert query["state"] == ["s-123"]
    return query["code"][0]


def exchange(issuer: LocalIssuer, code: str, verifier: str, **over: str) -> httpx.Response:
    return httpx.post(issuer.issuer + "/token", data={"grant_type": "authorization_code", "code": code,
                                                       "redirect_uri": CALLBACK, "client_id": "console",
                                                       "code_verifier": verifier, **over})


def test_discovery_names_the_endpoints_and_s256(issuer: LocalIssuer) -> None:
    meta = httpx.get(issuer.issuer + "/.well-known/openid-configuration").json()
    assert meta["authorization_endpoint"] == issuer.issuer + "/authorize"
    assert meta["token_endpoint"] == issuer.issuer + "/token"
    assert meta["response_types_supported"] == ["code"]
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["grant_types_supported"] == ["authorization_code"]


def test_happy_path_form_then_code_then_platform_token_and_id_token(issuer: LocalIssuer) -> None:
    verifier, challenge = pkce()
    form = httpx.get(issuer.issuer + "/authorize", params=params(challenge))
    assert form.status_code == 200 and form.headers["content-type"].startswith("text/html")
    assert '<label for="username">' in form.text and '<label for="password">' in form.text
    assert 'lang="zh-CN"' in form.text and "http" not in form.text.split("<body>")[1].replace(CALLBACK, "")
    resp = exchange(issuer, code_of(log_in(issuer, challenge, username="oversight2")), verifier)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 8 * 3600
    key = jwt.PyJWKSet.from_dict(issuer.jwks()).keys[0]
    access = jwt.decode(body["access_token"], key, algorithms=["ES256"], audience="one-window", issuer=issuer.issuer)
    assert (access["sub"], access["role"], access["department"], access["name"]) == \
        ("oversight2", "oversight", "discipline_inspection", "周纪检")
    assert access["exp"] - access["iat"] == 8 * 3600
    ident = jwt.decode(body["id_token"], key, algorithms=["ES256"], audience="console", issuer=issuer.issuer)
    assert (ident["sub"], ident["role"]) == ("oversight2", "oversight")


def test_wrong_password_shows_the_form_again_with_a_message_and_401(issuer: LocalIssuer) -> None:
    _, challenge = pkce()
    resp = log_in(issuer, challenge, password="wrong")
    assert resp.status_code == 401
    assert "登录失败：用户名或密码错误" in resp.text and 'value="supervisor1"' in resp.text
    assert log_in(issuer, challenge, username="nobody").status_code == 401


def test_a_code_is_used_once(issuer: LocalIssuer) -> None:
    verifier, challenge = pkce()
    code = code_of(log_in(issuer, challenge))
    assert exchange(issuer, code, verifier).status_code == 200
    again = exchange(issuer, code, verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_a_code_expires_after_60_seconds(tmp_path: Path) -> None:
    now = [1000.0]
    issuer = LocalIssuer(tmp_path, "http://127.0.0.1", clients={"console": [CALLBACK]},
                         users=ROOT / "config" / "dev-users.toml", password=PASSWORD, clock=lambda: now[0]).ensure()
    verifier, challenge = pkce()
    user = issuer.login("window1", PASSWORD)
    assert user is not None
    code = issuer.grant(user, params(challenge))
    now[0] += 61
    with pytest.raises(Exception, match="expired"):
        issuer.exchange({"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
                         "client_id": "console", "code_verifier": verifier})


def test_a_wrong_verifier_is_refused_and_burns_the_code(issuer: LocalIssuer) -> None:
    verifier, challenge = pkce()
    code = code_of(log_in(issuer, challenge))
    wrong = exchange(issuer, code, pkce()[0])
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    assert exchange(issuer, code, verifier).json()["error"] == "invalid_grant"


def test_a_code_is_bound_to_its_redirect_uri(issuer: LocalIssuer) -> None:
    verifier, challenge = pkce()
    code = code_of(log_in(issuer, challenge))
    resp = exchange(issuer, code, verifier, redirect_uri="http://127.0.0.1:8010/other")
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"


def test_an_unregistered_redirect_uri_is_an_error_page_never_a_redirect(issuer: LocalIssuer) -> None:
    _, challenge = pkce()
    for resp in (httpx.get(issuer.issuer + "/authorize", params=params(challenge, redirect_uri="https://evil.example/cb")),
                 log_in(issuer, challenge, redirect_uri="https://evil.example/cb")):
        assert resp.status_code == 400 and "location" not in resp.headers
        assert "回调地址未登记" in resp.text


def test_an_unknown_client_is_refused(issuer: LocalIssuer) -> None:
    verifier, challenge = pkce()
    page = httpx.get(issuer.issuer + "/authorize", params=params(challenge, client_id="stranger"))
    assert page.status_code == 400 and "location" not in page.headers and "未登记的客户端" in page.text
    code = code_of(log_in(issuer, challenge))
    resp = exchange(issuer, code, verifier, client_id="stranger")
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_client"


def test_the_plain_method_is_refused(issuer: LocalIssuer) -> None:
    verifier = pkce()[0]
    resp = httpx.get(issuer.issuer + "/authorize", params=params(verifier, code_challenge_method="plain"))
    assert resp.status_code == 400 and "S256" in resp.text and "<form" not in resp.text
    assert log_in(issuer, verifier, code_challenge_method="plain").status_code == 400


def test_a_script_in_state_is_rendered_escaped(issuer: LocalIssuer) -> None:
    _, challenge = pkce()
    attack = '"><script>alert(1)</script>'
    resp = httpx.get(issuer.issuer + "/authorize", params=params(challenge, state=attack))
    assert resp.status_code == 200
    assert "<script>" not in resp.text and "&lt;script&gt;" in resp.text and "&quot;&gt;" in resp.text
    assert "script-src" not in resp.headers["content-security-policy"]  # default-src 'none': no script runs


def test_token_errors_are_rfc_6749_json(issuer: LocalIssuer) -> None:
    resp = httpx.post(issuer.issuer + "/token", data={"grant_type": "authorization_code", "client_id": "console"})
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_request"
    assert "code" in resp.json()["error_description"]


def test_the_dev_users_cover_every_staff_role_and_three_oversight_bodies() -> None:
    users = load_users(ROOT / "config" / "dev-users.toml")
    roles = {u.role for u in users.values()}
    assert {"window_staff", "helper", "supervisor", "oversight", "operator", "reviewer", "applicant"} <= roles
    bodies = {u.department for u in users.values() if u.role == "oversight"}
    assert bodies == set(OVERSIGHT_BODIES)  # the three bodies that sign a box opening
    assert users["reviewer_tax"].department == "tax"


@pytest.mark.parametrize(("env", "callback"), [({}, CALLBACK),
                                               ({"CONSOLE_PORT": "8111"}, "http://127.0.0.1:8111/auth/callback")])
def test_make_run_registers_the_console_client_and_the_dev_users(tmp_path: Path, env: dict[str, str],
                                                                 callback: str) -> None:
    cfg = StackConfig.from_env({"DEVSTACK_ROOT": str(ROOT), "DEVSTACK_VAR_DIR": str(tmp_path), **env})
    line = procfile_lines(cfg)["issuer"]
    assert line[line.index("--client") + 1] == f"console={callback}"
    assert line[line.index("--users") + 1] == str(ROOT / "config" / "dev-users.toml")
