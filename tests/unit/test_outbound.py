"""The outbound URL policy (servicekit.outbound) and its pinned transport: every refused
range, IPv6 and IPv4-in-IPv6 forms, userinfo, the https rule, the allow-list, and a request
that goes to the checked address with the original Host. Only loopback is ever connected to."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from servicekit.outbound import OutboundPolicy, OutboundRefused
from servicekit.outbound_http import ResolveError, outbound_client

PROD = OutboundPolicy()


@pytest.mark.parametrize(("host", "reason"), [
    ("127.0.0.1", "loopback address"), ("127.255.0.9", "loopback address"), ("[::1]", "loopback address"),
    ("localhost", "loopback address"), ("api.localhost", "loopback address"),
    ("10.0.0.1", "private address"), ("172.16.5.4", "private address"), ("172.31.255.255", "private address"),
    ("192.168.1.1", "private address"), ("[fd00::1]", "private address"), ("[fc00::1]", "private address"),
    ("[fec0::1]", "private address"),
    ("169.254.169.254", "link-local address"), ("[fe80::1]", "link-local address"),
    ("[fe80::1%25eth0]", "link-local address"),
    ("100.64.0.1", "shared address space (CGNAT)"), ("100.127.255.254", "shared address space (CGNAT)"),
    ("224.0.0.1", "multicast address"), ("239.255.255.250", "multicast address"), ("[ff02::1]", "multicast address"),
    ("0.0.0.0", "unspecified address"), ("0.1.2.3", "unspecified address"), ("[::]", "unspecified address"),
    ("240.0.0.1", "reserved address"), ("255.255.255.255", "reserved address"), ("192.0.2.1", "reserved address"),
    ("198.18.0.1", "reserved address"), ("[2001:db8::1]", "reserved address"), ("[100::1]", "reserved address"),
    ("[::127.0.0.1]", "reserved address"), ("[4000::1]", "reserved address"),
    # IPv4 inside IPv6: judged as the IPv4 address
    ("[::ffff:127.0.0.1]", "loopback address"), ("[::ffff:a9fe:a9fe]", "link-local address"),
    ("[::ffff:10.1.2.3]", "private address"), ("[64:ff9b::10.0.0.1]", "private address"),
    ("[2002:7f00:1::]", "loopback address"), ("[64:ff9b:1::1]", "private address"),
    # IPv4 in the forms the C resolver also reads
    ("2130706433", "IP address in a non-standard form"), ("127.1", "IP address in a non-standard form"),
    ("0x7f.0.0.1", "IP address in a non-standard form"), ("017700000001", "IP address in a non-standard form"),
])
def test_internal_addresses_are_refused(host, reason):
    with pytest.raises(OutboundRefused) as err:
        PROD.check_url(f"https://{host}/hook")
    assert err.value.reason == reason
    assert PROD.refusal(f"https://{host}/hook") == f"refused by outbound policy: {reason}"


@pytest.mark.parametrize("url", ["https://8.8.8.8/h", "https://[2606:4700:4700::1111]/h", "https://tax.example.gov.cn/h",
                                 "https://[::ffff:8.8.8.8]/h", "https://1.1.1.1:8443/h", "https://example.com./h"])
def test_public_targets_pass(url):
    assert PROD.refusal(url) is None


@pytest.mark.parametrize(("url", "reason"), [
    ("http://tax.example/h", "must be an absolute https URL"), ("ftp://tax.example/h", "must be an absolute https URL"),
    ("https:///h", "must be an absolute https URL"), ("/relative", "must be an absolute https URL"),
    ("https://user:pw@tax.example/h", "credentials (user:password@) are not allowed in the URL"),
    ("https://user@tax.example/h", "credentials (user:password@) are not allowed in the URL"),
    ("https://tax.example@10.0.0.1/h", "credentials (user:password@) are not allowed in the URL"),
    ("https://tax.example:99999/h", "not a valid URL"),
    ("https://tax.example/" + "a" * 3000, "URL longer than 2048 characters"),
])
def test_url_rules(url, reason):
    with pytest.raises(OutboundRefused) as err:
        PROD.check_url(url)
    assert err.value.reason == reason


def test_http_only_where_allowed_and_the_allow_list_admits_local_receivers():
    dev = OutboundPolicy(allow_http=True, allow=("127.0.0.1:9000", "localhost", "[::1]:9001", "10.9.0.0/16"))
    assert dev.refusal("http://tax.example/h") is None
    assert dev.refusal("ftp://tax.example/h") == "refused by outbound policy: must be an absolute https or http URL"
    assert dev.refusal("http://127.0.0.1:9000/webhook") is None
    assert dev.refusal("http://127.0.0.1:8004/subscriptions") == "refused by outbound policy: loopback address"
    assert dev.refusal("http://localhost:8080/") is None and dev.refusal("http://[::1]:9001/") is None
    assert dev.refusal("http://[::1]:9002/") == "refused by outbound policy: loopback address"
    assert dev.refusal("http://10.9.3.4/") is None and dev.refusal("http://10.8.3.4/") is not None
    assert dev.refusal("http://user:pw@127.0.0.1:9000/") is not None  # userinfo: never
    assert OutboundPolicy().refusal("https://127.0.0.1:9000/") is not None  # the allow-list is empty by default


def resolver(table: dict[str, list[str]]):
    async def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError(f"unknown host {host}")
        return table[host]
    return resolve


async def test_resolved_addresses_are_checked_all_of_them():
    policy = OutboundPolicy.of(allow_http=False, allow=["10.9.0.0/16"], resolver=resolver({
        "public.example": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
        "rebound.example": ["169.254.169.254"], "mixed.example": ["93.184.215.14", "10.0.0.1"],
        "mapped.example": ["::ffff:127.0.0.1"], "empty.example": [], "lab.example": ["10.9.0.5"]}))
    assert await policy.resolve(policy.check_url("https://public.example/")) == [
        "93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]
    assert await policy.resolve(policy.check_url("https://lab.example/")) == ["10.9.0.5"]  # CIDR allow-list
    for host, reason in [("rebound", "link-local address"), ("mixed", "private address"),
                         ("mapped", "loopback address"), ("empty", "host resolves to no address")]:
        with pytest.raises(OutboundRefused) as err:
            await policy.resolve(policy.check_url(f"https://{host}.example/"))
        assert err.value.reason == reason
    with pytest.raises(OSError):
        await policy.resolve(policy.check_url("https://unknown.example/"))


async def test_the_transport_connects_to_the_checked_address_with_the_original_host():
    seen: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    table = {"agency.test": ["127.0.0.1"], "evil.test": ["127.0.0.1"]}
    # the allow-list admits the loopback network for this test only; evil.test is refused without it
    client = outbound_client(OutboundPolicy.of(allow_http=True, allow=["127.0.0.0/8"], resolver=resolver(table)),
                             timeout=5)
    strict = outbound_client(OutboundPolicy.of(allow_http=True, resolver=resolver(table)), timeout=5)
    async with server, client, strict:
        r = await client.post(f"http://agency.test:{port}/hook", content=b"{}")
        assert r.status_code == 302 and len(seen) == 1  # the redirect is not followed
        assert f"host: agency.test:{port}".encode() in seen[0].lower()
        with pytest.raises(OutboundRefused):
            await strict.post(f"http://evil.test:{port}/hook", content=b"{}")
        with pytest.raises(ResolveError):
            await client.post(f"http://nowhere.test:{port}/hook", content=b"{}")
    assert len(seen) == 1


async def test_https_keeps_the_name_for_sni_and_the_certificate():
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(204)

    policy = OutboundPolicy.of(allow_http=False, resolver=resolver({"tax.example": ["93.184.215.14"]}))
    async with outbound_client(policy, timeout=5, inner=httpx.MockTransport(handler)) as client:
        assert (await client.post("https://tax.example/hook", content=b"{}")).status_code == 204
    [req] = sent
    assert (req.url.host, req.headers["host"], req.extensions["sni_hostname"]) == (
        "93.184.215.14", "tax.example", "tax.example")


async def test_at_subscribe_time_a_name_pointing_inside_is_refused_and_an_unresolved_one_waits_for_send_time():
    policy = OutboundPolicy.of(allow_http=False, resolver=resolver({
        "public.example": ["93.184.215.14"], "inside.example": ["10.1.2.3"], "meta.example": ["169.254.169.254"]}))
    assert await policy.resolved_refusal("https://public.example/hook") is None
    assert await policy.resolved_refusal("https://inside.example/hook") == "refused by outbound policy: private address"
    assert await policy.resolved_refusal("https://meta.example/hook") == "refused by outbound policy: link-local address"
    assert await policy.resolved_refusal("https://not-yet.example/hook") is None  # judged at each send
    assert await policy.resolved_refusal("http://public.example/hook") is not None  # the URL rules first
