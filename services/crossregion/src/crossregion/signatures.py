"""HTTP Message Signatures (RFC 9421) between service centers, with the
``http-message-signatures`` library and Ed25519 keys (``cryptography``).

Each request covers ``@method``, ``@path``, ``content-type`` and ``content-digest`` (RFC 9530,
SHA-256 of the body), with the signature parameters ``created``, ``expires``, ``keyid``,
``alg``, ``nonce`` (fresh per request: a request sent again as it was is a replay) and
``tag`` (``one-window-exchange``). The verifier refuses, with a fixed reason: no signature,
a malformed one, an unknown or retired key id, an expired or not-yet-valid request, a body
whose digest differs, a signature that does not verify."""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    InvalidSignature,
    algorithms,
)
from http_message_signatures.exceptions import HTTPMessageSignaturesException

from crossregion.domain import ExchangeRefused

TAG = "one-window-exchange"
LABEL = "ow"
COVERED = ("@method", "@path", "content-type")
REQUIRED = ("@method", "@path", "content-type", "content-digest")
CONTENT_TYPE = "application/json"

UNSIGNED = "unsigned request: Signature and Signature-Input are required"
MALFORMED = "malformed signature"
UNKNOWN_KEY = "unknown or retired key id"
EXPIRED = "expired request (created/expires outside the accepted window)"
DIGEST = "Content-Digest does not match the body"
BAD_SIGNATURE = "signature does not verify"


def public_key_text(key: Ed25519PrivateKey) -> str:
    return base64.b64encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def private_key(seed_b64: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(base64.b64decode(seed_b64))


def public_key(text: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(text))


def new_seed() -> str:
    """A fresh private key's 32-byte seed, base64 (settings: ``signing_keys``)."""
    return base64.b64encode(secrets.token_bytes(32)).decode()


class _Keys(HTTPSignatureKeyResolver):
    def __init__(self, public: Callable[[str], Ed25519PublicKey | None] | None = None,
                 private: Mapping[str, Ed25519PrivateKey] | None = None) -> None:
        self.public, self.private = public, private or {}

    def resolve_public_key(self, key_id: str) -> Ed25519PublicKey | None:
        return self.public(key_id) if self.public else None

    def resolve_private_key(self, key_id: str) -> Ed25519PrivateKey:
        return self.private[key_id]


class Keyring:
    """Our signing keys (``key_id`` → private key). ``current`` signs unless a region was given another."""

    def __init__(self, keys: Sequence[tuple[str, str]]) -> None:
        if not keys:
            raise ValueError("at least one signing key is needed")
        self.keys = {key_id: private_key(seed) for key_id, seed in keys}
        self.current = keys[0][0]
        self._signer = HTTPMessageSigner(signature_algorithm=algorithms.ED25519, key_resolver=_Keys(private=self.keys))

    def public_keys(self) -> dict[str, str]:
        return {key_id: public_key_text(k) for key_id, k in self.keys.items()}

    def sign(self, *, url: str, body: bytes, now: dt.datetime, expires_in: dt.timedelta,
             key_id: str | None = None, nonce: str | None = None) -> dict[str, str]:
        """The headers of a signed POST of ``body`` to ``url``."""
        kid = key_id if key_id in self.keys else self.current
        message = SimpleNamespace(method="POST", url=url, headers={"Content-Type": CONTENT_TYPE})
        self._signer.sign(message, key_id=kid, created=now, expires=now + expires_in,
                          nonce=nonce or secrets.token_urlsafe(16), tag=TAG, label=LABEL,
                          covered_component_ids=COVERED, body=body)
        return dict(message.headers)


@dataclass(frozen=True)
class Verified:
    key_id: str
    nonce: str
    created: dt.datetime
    expires: dt.datetime


class Verifier:
    """``verify`` a received request; ``public(key_id)`` gives a partner's key valid now (None: refused)."""

    def __init__(self, *, max_age: dt.timedelta, skew: dt.timedelta) -> None:
        self.max_age, self.skew = max_age, skew

    def verify(self, *, method: str, url: str, headers: Mapping[str, str], body: bytes,
               public: Callable[[str], str | None]) -> Verified:
        """``public(key_id)``: the partner's public key (base64) valid now, or None."""
        lower = {k.lower(): v for k, v in headers.items()}
        if "signature" not in lower or "signature-input" not in lower:
            raise ExchangeRefused(401, UNSIGNED)
        seen: list[str] = []

        def resolve(key_id: str) -> Ed25519PublicKey | None:
            seen.append(key_id)
            text = public(key_id)
            return public_key(text) if text else None

        verifier = HTTPMessageVerifier(signature_algorithm=algorithms.ED25519, key_resolver=_Keys(public=resolve))
        verifier.max_clock_skew = self.skew
        message = SimpleNamespace(method=method, url=url, headers=dict(headers))
        try:
            [result] = verifier.verify(message, max_age=self.max_age, expect_tag=TAG, require_components=REQUIRED,
                                       body=body)
        except InvalidSignature as exc:
            status, reason = _reason(str(exc), resolved=bool(seen))
            raise ExchangeRefused(status, reason, key_id=seen[-1][:64] if seen else None) from exc
        except (HTTPMessageSignaturesException, ValueError) as exc:
            raise ExchangeRefused(400, MALFORMED) from exc
        params: dict[str, Any] = result.parameters
        if "expires" not in params or not result.nonce:
            raise ExchangeRefused(400, f"{MALFORMED}: expires and nonce are required")
        if params["expires"] - params["created"] > self.max_age.total_seconds():
            raise ExchangeRefused(401, EXPIRED)
        return Verified(str(params["keyid"]), result.nonce, _time(params["created"]), _time(params["expires"]))


def _time(ts: int | str) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(ts), tz=dt.UTC)


def _reason(message: str, *, resolved: bool) -> tuple[int, str]:
    """A library message as a fixed reason (never the library's own words: they may echo input)."""
    text = message.lower()
    if "unable to resolve verification key" in text:
        return 401, UNKNOWN_KEY
    if "content-digest" in text and ("match" in text or "requires" in text):
        return 401, DIGEST
    if any(w in text for w in ("missing", "malformed", "must be", "unexpected", "expected", "no signatures",
                               "required component", "multiple signatures")):
        return 400, MALFORMED
    if any(w in text for w in ("expires", "in the future", "maximum allowable age")):
        return 401, EXPIRED
    return (401, BAD_SIGNATURE) if resolved else (400, MALFORMED)
