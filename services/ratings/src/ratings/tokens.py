"""Adapters: rating tokens signed with PyJWT (HS256 under the service's own key: only ratings
issues and reads them) and QR codes rendered as PNG with segno."""

from __future__ import annotations

import io
from datetime import datetime

import jwt
import segno

from ratings.domain import TokenRefused
from ratings.ports import TokenClaims

AUDIENCE = "one-window/ratings/rate"
ALGORITHM = "HS256"


class JwtRatingTokens:
    """Signed, expiring tokens bound to one case (``sub``) with an id (``jti``) the case keeps:
    the case accepts only its current id, once (single use)."""

    def __init__(self) -> None:
        self._key: bytes | None = None

    def load(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the rating token key must have at least 32 bytes")
        self._key = key

    @property
    def key(self) -> bytes:
        if self._key is None:
            raise RuntimeError("rating token key not loaded (the service has not started)")
        return self._key

    def issue(self, case_number: str, token_id: str, expires_at: datetime) -> str:
        return jwt.encode({"sub": case_number, "jti": token_id, "aud": AUDIENCE, "exp": int(expires_at.timestamp())},
                          self.key, algorithm=ALGORITHM)

    def read(self, token: str, now: datetime) -> TokenClaims:
        try:
            claims = jwt.decode(token, self.key, algorithms=[ALGORITHM], audience=AUDIENCE,
                                options={"require": ["sub", "jti", "exp", "aud"], "verify_exp": False})
        except jwt.PyJWTError as exc:
            raise TokenRefused("this rating link is not valid (forged, damaged or not for rating)") from exc
        if int(now.timestamp()) >= int(claims["exp"]):  # the injected clock decides, not the wall clock
            raise TokenRefused("this rating link has expired")
        return TokenClaims(str(claims["sub"]), str(claims["jti"]))


class SegnoQr:
    def png(self, text: str) -> bytes:
        out = io.BytesIO()
        segno.make(text, error="m", micro=False).save(out, kind="png", scale=4, border=4)
        return out.getvalue()
