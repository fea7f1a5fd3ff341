"""Signed webhooks per the Standard Webhooks specification.

Headers: ``webhook-id`` (stable over retries: receivers deduplicate on it),
``webhook-timestamp`` (Unix seconds) and ``webhook-signature``
(``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`` with the subscription's
``whsec_`` secret), signed with the ``standardwebhooks`` library. The body is the event
in CloudEvents structured mode (``application/cloudevents+json``)."""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx
from standardwebhooks import Webhook

from notifications.ports import WebhookResponse

CONTENT_TYPE = "application/cloudevents+json"


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def signed_headers(secret: str, webhook_id: str, payload: str, now: datetime) -> dict[str, str]:
    ts = datetime.fromtimestamp(int(now.timestamp()), UTC)
    return {"webhook-id": webhook_id, "webhook-timestamp": str(int(ts.timestamp())),
            "webhook-signature": Webhook(secret).sign(webhook_id, ts, payload), "content-type": CONTENT_TYPE}


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - now).total_seconds(), 0.0)


class HttpWebhookSender:
    def __init__(self, client: httpx.AsyncClient, *, timeout: float = 10.0) -> None:
        self.client, self.timeout = client, timeout

    async def post(self, url: str, secret: str, webhook_id: str, payload: str, now: datetime) -> WebhookResponse:
        try:
            resp = await self.client.post(url, content=payload.encode(),
                                          headers=signed_headers(secret, webhook_id, payload, now),
                                          timeout=self.timeout)
        except httpx.HTTPError as exc:
            return WebhookResponse(None, None, f"{type(exc).__name__}: {exc}"[:300])
        error = None if resp.is_success else f"HTTP {resp.status_code}: {resp.text[:200]}"
        return WebhookResponse(resp.status_code, parse_retry_after(resp.headers.get("retry-after"), now), error)
