"""The HTTP sender of outbound exchanges, over the kit's outbound client (policy enforced:
partners' endpoints are checked against SSRF, the address pinned, no redirects)."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from servicekit.outbound import OutboundRefused
from servicekit.outbound_http import ResolveError


class HttpSender:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> str | None:
        """None when the partner took it: 2xx (a retry of an exchange it has answers 200 too)."""
        try:
            resp = await self.client.post(url, content=body, headers=dict(headers))
        except OutboundRefused as exc:
            return str(exc)
        except ResolveError:
            return "DNS lookup failed"
        except httpx.TimeoutException:
            return "timeout"
        except httpx.HTTPError as exc:
            return f"network error ({type(exc).__name__})"
        return None if resp.is_success else f"HTTP {resp.status_code}"
