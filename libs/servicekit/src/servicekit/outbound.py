"""Outbound URL policy: where a service may send requests that someone else named (a
partner agency's webhook URL). Against server-side request forgery (SSRF).

A URL is refused (:class:`OutboundRefused`, whose ``reason`` is one of a few fixed
phrases, safe to show to the URL's owner) when:

- its scheme is not https (http only with ``allow_http``, for development), it has no
  host, it carries userinfo (``user:pass@``), or it is longer than ``MAX_URL_LENGTH``;
- its host is an IP address, or a name, that is not public: loopback (127/8, ::1, the
  ``localhost`` names), private (RFC 1918, ULA fc00::/7, site-local), link-local
  (169.254/16 with the cloud metadata address, fe80::/10), shared address space (CGNAT
  100.64/10), multicast, unspecified (0.0.0.0/8, ::), reserved, documentation and
  benchmarking ranges, anything outside IPv6 global unicast 2000::/3; an IPv4 address
  inside IPv6 (mapped ``::ffff:a.b.c.d``, NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16``) is
  judged as the IPv4 address; an IPv4 address in a non-standard form (``2130706433``,
  ``0x7f.1``, ``127.1``) is refused outright.

:meth:`OutboundPolicy.check_url` does the checks that need no network (subscribe time).
:meth:`OutboundPolicy.resolve` resolves the host and checks every address it resolves to
(send time): a request must then connect to the address returned, never resolve again
(``servicekit.outbound_http.PinnedTransport`` does), so a name that resolves to a public
address when checked and to 127.0.0.1 a moment later (DNS rebinding) gets nowhere.

An allow-list (``outbound_allow``, empty by default) admits local targets in development
and tests: ``host`` or ``host:port`` (the URL's host, e.g. ``127.0.0.1:9000``,
``localhost``, ``[::1]:9000``: its addresses are not judged) or a network in CIDR form
(``127.0.0.0/8``: addresses inside it are admitted).

This module is pure (``ipaddress``, ``socket`` only for parsing and the default resolver);
the HTTP transport is in ``servicekit.outbound_http``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
#: ``(host, port) -> addresses``; the default asks the system resolver (getaddrinfo).
Resolver = Callable[[str, int], Awaitable[list[str]]]

MAX_URL_LENGTH = 2048

# Fixed reasons (shown to the URL's owner: never anything the target answered).
LOOPBACK = "loopback address"
PRIVATE = "private address"
LINK_LOCAL = "link-local address"
SHARED = "shared address space (CGNAT)"
MULTICAST = "multicast address"
UNSPECIFIED = "unspecified address"
RESERVED = "reserved address"
NOT_PUBLIC = "not a public address"
ODD_IP = "IP address in a non-standard form"
NO_ADDRESS = "host resolves to no address"

_V4: list[tuple[str, str]] = [
    ("0.0.0.0/8", UNSPECIFIED), ("10.0.0.0/8", PRIVATE), ("100.64.0.0/10", SHARED), ("127.0.0.0/8", LOOPBACK),
    ("169.254.0.0/16", LINK_LOCAL), ("172.16.0.0/12", PRIVATE), ("192.0.0.0/24", RESERVED),
    ("192.0.2.0/24", RESERVED), ("192.88.99.0/24", RESERVED), ("192.168.0.0/16", PRIVATE),
    ("198.18.0.0/15", RESERVED), ("198.51.100.0/24", RESERVED), ("203.0.113.0/24", RESERVED),
    ("224.0.0.0/4", MULTICAST), ("240.0.0.0/4", RESERVED),  # 255.255.255.255 included
]
_V6: list[tuple[str, str]] = [
    ("::/128", UNSPECIFIED), ("::1/128", LOOPBACK), ("::/96", RESERVED),  # IPv4-compatible (deprecated)
    ("64:ff9b:1::/48", PRIVATE), ("100::/64", RESERVED), ("2001::/23", RESERVED), ("2001:db8::/32", RESERVED),
    ("fc00::/7", PRIVATE), ("fe80::/10", LINK_LOCAL), ("fec0::/10", PRIVATE), ("ff00::/8", MULTICAST),
]
_BLOCKED: list[tuple[Network, str]] = [(ipaddress.ip_network(n), why) for n, why in _V4 + _V6]
_GLOBAL_UNICAST_V6 = ipaddress.IPv6Network("2000::/3")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class OutboundRefused(Exception):
    """The URL or an address it resolves to is not allowed; ``reason`` is a fixed phrase."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return f"refused by outbound policy: {self.reason}"


def address_refusal(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public address a request may go to (None: it is)."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return address_refusal(embedded)
    for network, why in _BLOCKED:
        if ip.version == network.version and ip in network:
            return why
    if isinstance(ip, ipaddress.IPv6Address) and ip not in _GLOBAL_UNICAST_V6:
        return RESERVED
    if not ip.is_global or ip.is_multicast or ip.is_reserved:  # belt and braces: the stdlib's own tables
        return NOT_PUBLIC
    return None


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0] if ":" in host else host)
    except ValueError:
        return None


def _odd_ipv4(host: str) -> bool:
    """A host the C resolver would read as an IPv4 address though it is not dotted-quad."""
    if not host or not all(c in "0123456789abcdefx." for c in host.lower()) or not host[0].isdigit():
        return False
    try:
        socket.inet_aton(host)
    except OSError:
        return False
    return True


@dataclass(frozen=True)
class Target:
    """A URL that passed :meth:`OutboundPolicy.check_url`: its host (lowercase, no
    brackets) and port; ``allowed`` if the allow-list names the host."""

    scheme: str
    host: str
    port: int
    allowed: bool


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class OutboundPolicy:
    allow_http: bool = False
    allow: tuple[str, ...] = ()
    resolver: Resolver = system_resolver
    _hosts: frozenset[tuple[str, int | None]] = field(init=False, repr=False, compare=False)
    _networks: tuple[Network, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        hosts: set[tuple[str, int | None]] = set()
        networks: list[Network] = []
        for entry in (e.strip().lower() for e in self.allow):
            if not entry:
                continue
            if "/" in entry:
                networks.append(ipaddress.ip_network(entry, strict=False))
                continue
            parts = urlsplit(f"//{entry}")
            if parts.hostname is None:
                raise ValueError(f"not an allow-list entry: {entry!r}")
            hosts.add((parts.hostname, parts.port))
        object.__setattr__(self, "_hosts", frozenset(hosts))
        object.__setattr__(self, "_networks", tuple(networks))

    @classmethod
    def of(cls, *, allow_http: bool, allow: Iterable[str] = (), resolver: Resolver | None = None) -> OutboundPolicy:
        return cls(allow_http, tuple(allow), resolver or system_resolver)

    # -- without the network (subscribe time) ------------------------------------------------
    def check_url(self, url: str) -> Target:
        """The URL's target, or :class:`OutboundRefused`. Hosts given by name are judged
        here only if they are loopback names; their addresses at :meth:`resolve`."""
        if len(url) > MAX_URL_LENGTH:
            raise OutboundRefused(f"URL longer than {MAX_URL_LENGTH} characters")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise OutboundRefused("not a valid URL") from exc
        schemes = ("https", "http") if self.allow_http else ("https",)
        if parts.scheme not in schemes:
            raise OutboundRefused(f"must be an absolute {' or '.join(schemes)} URL")
        if parts.username is not None or parts.password is not None or "@" in parts.netloc:
            raise OutboundRefused("credentials (user:password@) are not allowed in the URL")
        host = (parts.hostname or "").rstrip(".")
        if not host:
            raise OutboundRefused(f"must be an absolute {' or '.join(schemes)} URL")
        port = port or (443 if parts.scheme == "https" else 80)
        if (host, port) in self._hosts or (host, None) in self._hosts:
            return Target(parts.scheme, host, port, allowed=True)
        ip = _literal(host)
        if ip is not None:
            self._judge(ip)
        elif _odd_ipv4(host):
            raise OutboundRefused(ODD_IP)
        elif host == "localhost" or host.endswith(".localhost"):
            raise OutboundRefused(LOOPBACK)
        return Target(parts.scheme, host, port, allowed=False)

    def refusal(self, url: str) -> str | None:
        """:meth:`check_url` as a message (None: allowed so far)."""
        try:
            self.check_url(url)
        except OutboundRefused as exc:
            return str(exc)
        return None

    def _judge(self, ip: IPAddress) -> None:
        if any(ip.version == n.version and ip in n for n in self._networks):
            return
        if (why := address_refusal(ip)) is not None:
            raise OutboundRefused(why)

    # -- with the network (subscribe time, then send time) ---------------------------------------
    async def resolved_refusal(self, url: str, *, timeout: float = 2.0) -> str | None:
        """:meth:`refusal`, then the name's addresses if it resolves within ``timeout`` (subscribe
        time): a name that points inside is refused at once. A name that does not resolve (yet,
        or not in time) passes here; its addresses are judged at every send all the same."""
        try:
            await asyncio.wait_for(self.resolve(self.check_url(url)), timeout)
        except OutboundRefused as exc:
            return str(exc)
        except (OSError, TimeoutError):
            return None
        return None

    async def resolve(self, target: Target) -> list[str]:
        """The addresses to connect to, every one checked (one refused address refuses the
        target: no choosing among mixed answers). ``OSError`` if resolution fails."""
        ip = _literal(target.host)
        addresses = [str(ip)] if ip is not None else await self.resolver(target.host, target.port)
        if not addresses:
            raise OutboundRefused(NO_ADDRESS)
        checked = []
        for text in addresses:
            addr = _literal(text)
            if addr is None:
                raise OutboundRefused(NO_ADDRESS)
            if not target.allowed:
                self._judge(addr)
            checked.append(str(addr))
        return checked
