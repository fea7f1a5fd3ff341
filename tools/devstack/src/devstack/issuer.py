"""The development token issuer: an ES256 key pair made at first run and its JWKS on loopback.

``make run`` starts it as the ``issuer`` process (``DEVSTACK_ISSUER_PORT``, 8099; keys in
``var/issuer/``) and gives every service ``JWT_ISSUER=http://127.0.0.1:8099`` and
``JWT_JWKS_URL=<issuer>/.well-known/jwks.json``; ``python -m devstack token`` signs with the
same key. The tests run one in a thread (``tests/support/auth.py``). It stands in for a real
identity provider (docs/identity-provider.md) and never leaves a developer's machine.

Run: ``python -m devstack.issuer --port 8099 --dir var/issuer``. Serves
``/.well-known/openid-configuration`` and ``/.well-known/jwks.json``; the JWKS lists every
key in the folder (``rotate()`` adds a new signing key, the old one stays published).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

DEFAULT_PORT = 8099
AUDIENCE = "one-window"
JWKS_PATH = "/.well-known/jwks.json"
DISCOVERY_PATH = "/.well-known/openid-configuration"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_jwk(key: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    """The public JWK of ``key``, its ``kid`` the RFC 7638 thumbprint."""
    jwk: dict[str, str] = json.loads(ECAlgorithm.to_jwk(key.public_key()))
    canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True)
    return {**jwk, "kid": _b64(hashlib.sha256(canonical.encode()).digest()), "use": "sig", "alg": "ES256"}


class LocalIssuer:
    """Signing keys in ``directory`` (``<kid>.pem``, owner-only; ``current`` names the signing one)."""

    def __init__(self, directory: Path | str, issuer: str) -> None:
        self.directory, self.issuer = Path(directory), issuer.rstrip("/")

    @property
    def jwks_url(self) -> str:
        return self.issuer + JWKS_PATH

    def ensure(self) -> LocalIssuer:
        """Make a key pair if there is none yet."""
        if not (self.directory / "current").exists():
            self.rotate()
        return self

    def rotate(self) -> str:
        """A new signing key; earlier keys stay in the JWKS. Returns its ``kid``."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = ec.generate_private_key(ec.SECP256R1())
        kid = public_jwk(key)["kid"]
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        path = self.directory / f"{kid}.pem"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        (self.directory / "current").write_text(kid)
        return kid

    def _load(self, path: Path) -> ec.EllipticCurvePrivateKey:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key

    def jwks(self) -> dict[str, Any]:
        return {"keys": [public_jwk(self._load(p)) for p in sorted(self.directory.glob("*.pem"))]}

    def discovery(self) -> dict[str, Any]:
        return {"issuer": self.issuer, "jwks_uri": self.jwks_url, "id_token_signing_alg_values_supported": ["ES256"]}

    def sign(self, claims: dict[str, Any], headers: dict[str, Any] | None = None) -> str:
        """``claims`` signed ES256 with the current key (its ``kid`` in the header)."""
        kid = (self.directory / "current").read_text().strip()
        return jwt.encode(claims, self._load(self.directory / f"{kid}.pem"), algorithm="ES256",
                          headers={"kid": kid, **(headers or {})})

    def token(self, *, sub: str, role: str, audience: str = AUDIENCE, ttl: timedelta = timedelta(hours=1),
              now: datetime | None = None, **extra: str | None) -> str:
        """A token as the platform expects one: ``iss``, ``aud``, ``sub``, ``role``, ``iat``,
        ``exp`` and the optional ``department`` / ``agency_id`` / ``name``."""
        issued = now or datetime.now(UTC)
        claims: dict[str, Any] = {"iss": self.issuer, "aud": audience, "sub": sub, "role": role,
                                  "iat": int(issued.timestamp()), "exp": int((issued + ttl).timestamp())}
        claims.update({k: v for k, v in extra.items() if v})
        return self.sign(claims)

    def env(self) -> dict[str, str]:
        """The settings that make the services trust this issuer."""
        return {"JWT_ISSUER": self.issuer, "JWT_JWKS_URL": self.jwks_url}

    # -- the JWKS over HTTP ---------------------------------------------------------------
    def server(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> ThreadingHTTPServer:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path in (JWKS_PATH, DISCOVERY_PATH, "/healthz"):
                    body = json.dumps(issuer.jwks() if path == JWKS_PATH else issuer.discovery()
                                      if path == DISCOVERY_PATH else {"status": "ok"}).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Cache-Control", "max-age=60")
                else:
                    body = b'{"title": "Not Found", "status": 404}'
                    self.send_response(404)
                    self.send_header("Content-Type", "application/problem+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return ThreadingHTTPServer((host, port), Handler)

    def serve_in_thread(self, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
        """Serve the JWKS from a daemon thread (port 0: any free port; ``issuer`` follows it)."""
        srv = self.server(host, port)
        self.issuer = f"http://{host}:{srv.server_address[1]}"
        threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, name="jwks", daemon=True).start()
        return srv


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m devstack.issuer", description=__doc__.split("\n", 1)[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=DEFAULT_PORT)
    p.add_argument("--dir", default="var/issuer", help="where the key pair is kept (made at first run)")
    args = p.parse_args(argv)
    issuer = LocalIssuer(args.dir, f"http://{args.host}:{args.port}").ensure()
    srv = issuer.server(args.host, args.port)
    print(f"issuer: {issuer.issuer}  JWKS {issuer.jwks_url}  keys in {args.dir}", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()


if __name__ == "__main__":
    main()
