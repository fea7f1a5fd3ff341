"""Signed webhooks per the Standard Webhooks specification.

Headers: ``webhook-id`` (stable over retries: receivers deduplicate on it),
``webhook-timestamp`` (Unix seconds) and ``webhook-signature``
(``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`` with the subscription's
``whsec_`` secret), signed with the ``standardwebhooks`` library. The body is the event
in CloudEvents structured mode (``application/cloudevents+json``)."""

from __future__ import annotations

import base64
import secrets
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx
from standardwebhooks import Webhook

from notifications.ports import WebhookResponse
from servicekit.outbound import OutboundRefused
from servicekit.outbound_http import ResolveError

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


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return
        yield seen
        seen = seen.__cause__ or seen.__context__


def failure_reason(exc: Exception) -> str:
    """A short fixed reason for a request that got no HTTP answer (never what a receiver
    sent: the delivery record is shown to the agency)."""
    if isinstance(exc, OutboundRefused):
        return str(exc)  # "refused by outbound policy: <fixed reason>"
    if isinstance(exc, ResolveError):
        return "DNS lookup failed"
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.ConnectError):
        causes = list(_causes(exc))
        if any(isinstance(c, ssl.SSLError) for c in causes):
            return "TLS error"
        if any(isinstance(c, ConnectionRefusedError) for c in causes) or "refused" in str(exc).lower():
            return "connection refused"
        return "connection failed"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "protocol error"
    return "network error"


def answer_reason(status_code: int) -> str:
    """The fixed reason for a non-2xx answer: its status code only, never its body."""
    if 300 <= status_code < 400:
        return f"HTTP {status_code} (redirects are not followed)"
    return f"HTTP {status_code}"


class HttpWebhookSender:
    """Posts over a client that enforces the outbound policy
    (``servicekit.outbound_http.outbound_client``: checked, pinned address, no redirects)."""

    def __init__(self, client: httpx.AsyncClient, *, timeout: float = 10.0) -> None:
        self.client, self.timeout = client, timeout

    async def post(self, url: str, secret: str, webhook_id: str, payload: str, now: datetime) -> WebhookResponse:
        try:
            resp = await self.client.post(url, content=payload.encode(),
                                          headers=signed_headers(secret, webhook_id, payload, now),
                                          timeout=self.timeout)
        except (httpx.HTTPError, OutboundRefused) as exc:
            return WebhookResponse(None, None, failure_reason(exc))
        error = None if resp.is_success else answer_reason(resp.status_code)
        return WebhookResponse(resp.status_code, parse_retry_after(resp.headers.get("retry-after"), now), error)
