"""Bearer tokens: asymmetric, from the configured issuer, verified against its JWKS (issue 10).

Each refusal is a 401 problem+json from a real app over HTTP; the issuer is the
development issuer (an ES256 key pair in ``tmp_path``, its JWKS served on loopback).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import Depends, FastAPI

from devstack.issuer import LocalIssuer
from servicekit.auth import JwksKeys, Principal, TokenVerifier, current_principal
from servicekit.config import ServiceSettings
from servicekit.problems import install_problem_handlers

AUD = "one-window"


@pytest.fixture
def issuer(tmp_path) -> Iterator[LocalIssuer]:
    issuer = LocalIssuer(tmp_path / "issuer", "http://127.0.0.1").ensure()
    srv = issuer.serve_in_thread()
    yield issuer
    srv.shutdown()
    srv.server_close()


def settings_for(issuer: LocalIssuer, **kw: Any) -> ServiceSettings:
    return ServiceSettings(**{"jwt_issuer": issuer.issuer, "jwt_jwks_url": issuer.jwks_url, **kw})


def app_for(verifier: TokenVerifier) -> FastAPI:
    app = FastAPI()
    app.state.token_verifier = verifier
    install_problem_handlers(app)

    @app.get("/me")
    async def me(p: Principal = Depends(current_principal)) -> dict[str, str | None]:
        return {"sub": p.sub, "role": p.role.value, "department": p.department, "agency_id": p.agency_id}

    return app


@pytest.fixture
async def client(issuer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app_for(TokenVerifier(settings_for(issuer)))),
                                 base_url="http://test") as c:
        yield c


def claims(issuer: LocalIssuer, **kw: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": issuer.issuer, "aud": AUD, "sub": "u-1", "role": "applicant", "iat": now, "exp": now + 600, **kw}


def kid_of(issuer: LocalIssuer) -> str:
    return (issuer.directory / "current").read_text()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256(header: dict[str, Any], payload: dict[str, Any], secret: bytes) -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    return f"{signing_input}.{b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"


async def status(client: httpx.AsyncClient, token: str) -> int:
    r = await client.get("/me", headers={"Authorization": f"Bearer {token}"})
    if r.status_code == 401:
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["status"] == 401
    return r.status_code


async def test_a_token_from_the_issuer_is_accepted_with_its_claims(client, issuer):
    r = await client.get("/me", headers={"Authorization": "Bearer " + issuer.sign(
        claims(issuer, role="reviewer", department="tax"))})
    assert r.status_code == 200
    assert r.json() == {"sub": "u-1", "role": "reviewer", "department": "tax", "agency_id": None}


async def test_no_token_is_401(client):
    r = await client.get("/me")
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("case", [
    "forged signature", "tampered payload", "wrong issuer", "wrong audience", "expired", "lifetime 100 years",
    "iat in the future", "no iat", "no exp", "alg none", "HS256 any secret", "HS256 with the public key",
    "another issuer's key", "unknown role", "reviewer without department", "partner without agency",
])
async def test_refused(client, issuer, case):
    now, kid = int(time.time()), kid_of(issuer)
    good = claims(issuer)
    stranger = ec.generate_private_key(ec.SECP256R1())
    token = {
        "forged signature": lambda: jwt.encode(good, stranger, algorithm="ES256", headers={"kid": kid}),
        "tampered payload": lambda: (lambda h, _p, s: f"{h}.{b64(json.dumps(claims(issuer, role='operator')).encode())}.{s}")(
            *issuer.sign(good).split(".")),
        "wrong issuer": lambda: issuer.sign(claims(issuer, iss="evil")),
        "wrong audience": lambda: issuer.sign(claims(issuer, aud="another-app")),
        "expired": lambda: issuer.sign(claims(issuer, iat=now - 3600, exp=now - 120)),
        "lifetime 100 years": lambda: issuer.sign(claims(issuer, exp=now + 100 * 365 * 86400)),
        "iat in the future": lambda: issuer.sign(claims(issuer, iat=now + 3600, exp=now + 7200)),
        "no iat": lambda: issuer.sign({k: v for k, v in good.items() if k != "iat"}),
        "no exp": lambda: issuer.sign({k: v for k, v in good.items() if k != "exp"}),
        "alg none": lambda: jwt.encode(good, None, algorithm="none", headers={"kid": kid}),
        "HS256 any secret": lambda: jwt.encode(good, "x" * 64, algorithm="HS256", headers={"kid": kid}),
        "HS256 with the public key": lambda: hs256({"alg": "HS256", "typ": "JWT", "kid": kid}, good,
                                                   json.dumps(issuer.jwks()["keys"][0]).encode()),
        "another issuer's key": lambda: jwt.encode(good, stranger, algorithm="ES256", headers={"kid": "stranger"}),
        "unknown role": lambda: issuer.sign(claims(issuer, role="root")),
        "reviewer without department": lambda: issuer.sign(claims(issuer, role="reviewer")),
        "partner without agency": lambda: issuer.sign(claims(issuer, role="partner_agency")),
    }[case]()
    assert await status(client, token) == 401


async def test_clock_skew_within_the_leeway_is_allowed(client, issuer):
    now = int(time.time())
    assert await status(client, issuer.sign(claims(issuer, iat=now + 30, exp=now + 600))) == 200
    assert await status(client, issuer.sign(claims(issuer, iat=now - 600, exp=now - 30))) == 200
    assert await status(client, issuer.sign(claims(issuer, iat=now, exp=now + 12 * 3600))) == 200


async def test_a_rotated_key_is_fetched_once_rate_limited(issuer):
    clock = [1000.0]
    keys = JwksKeys(issuer.jwks_url, cache_seconds=300, refetch_seconds=30, clock=lambda: clock[0])
    verifier = TokenVerifier(settings_for(issuer), keys)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app_for(verifier)), base_url="http://test") as c:
        assert await status(c, issuer.sign(claims(issuer))) == 200
        assert keys.fetches == 1
        issuer.rotate()  # the issuer signs with a new key and publishes it
        new = issuer.sign(claims(issuer))
        clock[0] += 5  # within the refetch interval: the unknown kid is refused without a fetch
        assert await status(c, new) == 401 and keys.fetches == 1
        for _ in range(5):  # a flood of unknown kids does not hammer the issuer
            assert await status(c, jwt.encode(claims(issuer), ec.generate_private_key(ec.SECP256R1()),
                                              algorithm="ES256", headers={"kid": "junk"})) == 401
        assert keys.fetches == 1
        clock[0] += 30
        assert await status(c, new) == 200 and keys.fetches == 2  # refetched once: accepted
        assert await status(c, new) == 200 and keys.fetches == 2  # cached


async def test_keys_are_found_by_oidc_discovery(issuer):
    verifier = TokenVerifier(settings_for(issuer, jwt_jwks_url=""))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app_for(verifier)), base_url="http://test") as c:
        assert await status(c, issuer.sign(claims(issuer))) == 200


async def test_an_unreachable_issuer_is_503_not_a_pass(tmp_path):
    issuer = LocalIssuer(tmp_path, "http://127.0.0.1:9").ensure()  # nothing listens on the discard port
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app_for(TokenVerifier(settings_for(issuer)))),
                                 base_url="http://test") as c:
        r = await c.get("/me", headers={"Authorization": "Bearer " + issuer.sign(claims(issuer))})
    assert r.status_code == 503 and r.headers["retry-after"]


async def test_rs256_only_when_configured(issuer):
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key())), "kid": "r1", "alg": "RS256"}
    token = jwt.encode(claims(issuer), rsa_key, algorithm="RS256", headers={"kid": "r1"})
    for algs, expected in (("ES256", 401), ("ES256,RS256", 200)):
        keys = JwksKeys(issuer.jwks_url)
        keys.keys, keys.fetched_at = {"r1": jwt.PyJWK(jwk)}, keys.clock()
        verifier = TokenVerifier(settings_for(issuer, jwt_algorithms=algs), keys)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app_for(verifier)), base_url="http://test") as c:
            assert await status(c, token) == expected


@pytest.mark.parametrize("algs", ["HS256", "ES256,HS512", "none", "", "ES256,nope"])
def test_symmetric_or_unknown_algorithms_cannot_be_configured(issuer, algs):
    with pytest.raises(ValueError, match="asymmetric"):
        TokenVerifier(settings_for(issuer, jwt_algorithms=algs))


async def test_claims_map_from_a_providers_names(issuer):
    verifier = TokenVerifier(settings_for(issuer, jwt_role_claim="ow.role", jwt_department_claim="ow.dept"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app_for(verifier)), base_url="http://test") as c:
        r = await c.get("/me", headers={"Authorization": "Bearer " + issuer.sign(
            {**claims(issuer), "role": None, "ow": {"role": "reviewer", "dept": "market"}})})
    assert r.status_code == 200 and r.json()["department"] == "market"


async def test_the_development_stack_trusts_its_issuer_and_devstack_token_signs_with_it(tmp_path, monkeypatch):
    from devstack.stack import StackConfig, process_env, procfile_lines, write_files
    from devstack.tokens import make_token

    for var in ("JWT_ISSUER", "JWT_JWKS_URL"):
        monkeypatch.delenv(var, raising=False)
    cfg = StackConfig.from_env({"DEVSTACK_VAR_DIR": str(tmp_path / "var"), "DEVSTACK_ISSUER_PORT": "0"})
    write_files(cfg)  # makes the key pair at first run
    assert (cfg.issuer_dir / "current").exists()
    assert "devstack.issuer" in procfile_lines(cfg)["issuer"]
    env = process_env(cfg)
    issuer = cfg.issuer
    srv = issuer.serve_in_thread()  # as the `issuer` process would, on a free port
    try:
        settings = ServiceSettings(jwt_issuer=issuer.issuer, jwt_jwks_url=issuer.jwks_url)
        assert env["JWT_ISSUER"] == cfg.issuer.issuer and env["JWT_JWKS_URL"].endswith("/.well-known/jwks.json")
        token = make_token(sub="r-1", role="reviewer", department="tax",
                           cfg=StackConfig.from_env({"DEVSTACK_VAR_DIR": str(tmp_path / "var"),
                                                     "DEVSTACK_ISSUER_PORT": issuer.issuer.rsplit(":", 1)[1]}))
        app = app_for(TokenVerifier(settings))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test") as c:
            r = await c.get("/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and r.json()["department"] == "tax"
        assert (cfg.issuer_dir / f"{(cfg.issuer_dir / 'current').read_text()}.pem").stat().st_mode & 0o077 == 0
    finally:
        srv.shutdown()
        srv.server_close()
