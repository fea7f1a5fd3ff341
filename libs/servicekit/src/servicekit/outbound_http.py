"""An httpx transport that enforces the outbound policy (``servicekit.outbound``) on
every request and connects to the address it checked.

For each request: the URL is checked, the host resolved once and every address checked;
the request then goes to the first address (the URL's host replaced by it) with the
original ``Host`` header and, for https, the original name as TLS SNI and for the
certificate check. Nothing resolves the name a second time, so DNS rebinding cannot
swap in an internal address between check and connect. Connections are not kept alive
(a pool keyed by address could otherwise carry one name's request on a connection made
for another). Use it with ``follow_redirects=False`` and ``trust_env=False`` (an
environment proxy would bypass it): :func:`outbound_client` does.

Errors: :class:`servicekit.outbound.OutboundRefused` (the policy said no),
:class:`ResolveError` (an ``httpx.ConnectError``: the name did not resolve)."""

from __future__ import annotations

import httpx

from servicekit.outbound import OutboundPolicy, OutboundRefused


class ResolveError(httpx.ConnectError):
    """The host name could not be resolved."""


class PinnedTransport(httpx.AsyncBaseTransport):
    """``inner``: the transport that connects (by default a plain one without keep-alive;
    tests pass an ``httpx.MockTransport`` and see the request addressed to the IP)."""

    def __init__(self, policy: OutboundPolicy, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self.policy = policy
        self.inner = inner or httpx.AsyncHTTPTransport(limits=httpx.Limits(max_keepalive_connections=0), retries=0)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        target = self.policy.check_url(str(request.url))
        try:
            addresses = await self.policy.resolve(target)
        except OSError as exc:
            raise ResolveError("DNS lookup failed", request=request) from exc
        request.url = request.url.copy_with(host=addresses[0])  # the Host header keeps the name
        if target.scheme == "https":
            request.extensions = {**request.extensions, "sni_hostname": target.host}
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def outbound_client(policy: OutboundPolicy, *, timeout: float, inner: httpx.AsyncBaseTransport | None = None,
                    max_connections: int = 100) -> httpx.AsyncClient:
    """A client for requests to URLs others named: policy enforced, pinned, no redirects,
    no proxies from the environment."""
    return httpx.AsyncClient(transport=PinnedTransport(policy, inner), follow_redirects=False, trust_env=False,
                             timeout=httpx.Timeout(timeout), limits=httpx.Limits(max_connections=max_connections))


__all__ = ["OutboundRefused", "PinnedTransport", "ResolveError", "outbound_client"]
