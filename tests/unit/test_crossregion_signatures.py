"""The exchange's signatures (RFC 9421, Ed25519, Content-Digest) through the
``http-message-signatures`` library: what verifies, and the fixed reason of each refusal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crossregion.domain import ExchangeRefused
from crossregion.signatures import Keyring, Verifier, new_seed, private_key, public_key_text

URL = "https://jinchang.example.cn/exchange"
BODY = b'{"exchange_id": "620600.abc12345"}'
SEED = new_seed()
KEYS = Keyring([("wu-1", SEED)])
VERIFIER = Verifier(max_age=timedelta(minutes=5), skew=timedelta(seconds=5))


def public(key_id: str) -> str | None:
    return public_key_text(private_key(SEED)) if key_id == "wu-1" else None


def verify(headers: dict[str, str], body: bytes = BODY, url: str = URL, method: str = "POST"):
    return VERIFIER.verify(method=method, url=url, headers=headers, body=body, public=public)


def signed(**kw) -> dict[str, str]:
    return KEYS.sign(url=URL, body=BODY, now=kw.pop("now", datetime.now(UTC)),
                     expires_in=kw.pop("expires_in", timedelta(seconds=60)), **kw)


def refused(headers: dict[str, str], **kw) -> ExchangeRefused:
    with pytest.raises(ExchangeRefused) as err:
        verify(headers, **kw)
    return err.value


def test_a_signed_request_verifies_with_its_key_id_nonce_and_times():
    headers = signed(nonce="n-1")
    assert "content-digest" in headers["Signature-Input"] and 'keyid="wu-1"' in headers["Signature-Input"]
    got = verify(headers)
    assert got.key_id == "wu-1" and got.nonce == "n-1" and got.expires > got.created


def test_each_request_gets_a_fresh_nonce():
    assert verify(signed()).nonce != verify(signed()).nonce


@pytest.mark.parametrize(("change", "status", "reason"), [
    (lambda h: {"Content-Type": "application/json"}, 401, "unsigned"),
    (lambda h: {**h, "Signature": "ow=:AAAA:"}, 401, "does not verify"),
    (lambda h: {**h, "Signature-Input": "garbage(("}, 400, "malformed"),
    (lambda h: {**h, "Content-Type": "text/plain"}, 401, "does not verify"),
])
def test_refusals_have_fixed_reasons(change, status, reason):
    err = refused(change(signed()))
    assert err.status == status and reason in err.reason


def test_a_tampered_body_or_path_is_refused():
    assert "Content-Digest" in refused(signed(), body=BODY + b" ").reason
    assert "does not verify" in refused(signed(), url="https://jinchang.example.cn/other").reason


def test_an_unknown_key_id_is_refused_and_named():
    err = refused(Keyring([("wu-9", new_seed())]).sign(url=URL, body=BODY, now=datetime.now(UTC),
                                                       expires_in=timedelta(seconds=60)))
    assert err.status == 401 and "unknown or retired key id" in err.reason and err.key_id == "wu-9"


def test_an_expired_or_too_long_lived_request_is_refused():
    assert "expired" in refused(signed(now=datetime.now(UTC) - timedelta(minutes=10))).reason
    assert "expired" in refused(signed(expires_in=timedelta(hours=1))).reason  # validity longer than accepted
    assert "expired" in refused(signed(now=datetime.now(UTC) + timedelta(minutes=5))).reason  # created in the future
