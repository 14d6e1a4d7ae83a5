"""SSRF protection: non-public addresses are refused at connect time unless allowed."""

import re
import socket

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from npo_integration.http import NpoHttpClient
from npo_integration.http.errors import NpoRequestError, UnsafeUrlError
from npo_integration.http.resolver import GuardedResolver, check_literal_host
from npo_integration.url_policy import is_public_address


class FakeDns(AbstractResolver):
    """Resolves every name to fixed addresses, like a rebinding attacker's DNS server."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = addresses
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        return [
            ResolveResult(
                hostname=host, host=address, port=port, family=socket.AF_INET, proto=0, flags=0
            )
            for address in self.addresses
        ]

    async def close(self) -> None:
        pass


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("192.168.0.10", False),
        ("169.254.169.254", False),
        ("::1", False),
        ("fe80::1%eth0", False),
        ("::ffff:127.0.0.1", False),
        ("0.0.0.0", False),
        # a deny-list of private ranges let these through; only global addresses pass now
        ("100.64.0.1", False),  # shared address space (carrier-grade NAT), RFC 6598
        ("100.127.255.254", False),
        ("2002:a00:1::1", False),  # 6to4 of 10.0.0.1
        ("2002:7f00:1::1", False),  # 6to4 of 127.0.0.1
        ("2002:5db8:d822::1", False),  # 6to4 of a public address: 6to4 is refused as a whole
        ("::ffff:10.0.0.1", False),  # IPv4-mapped: judged by its IPv4 part
        ("::ffff:169.254.169.254", False),
        ("::ffff:93.184.216.34", True),
        ("64:ff9b::a00:1", False),  # NAT64 of 10.0.0.1
        ("64:ff9b::5db8:d822", True),  # NAT64 of a public address
        ("64:ff9b:1::1", False),  # local-use NAT64, RFC 8215
        ("::a00:1", False),  # IPv4-compatible (deprecated)
        ("2001::1", False),  # Teredo
        ("2001:db8::1", False),  # documentation
        ("fec0::1", False),  # site-local (deprecated)
        ("fd00::1", False),  # unique local
        ("198.18.0.1", False),  # benchmarking
        ("192.0.2.1", False),  # documentation
        ("224.0.0.1", False),  # multicast
        ("ff0e::1", False),
        ("240.0.0.1", False),  # reserved
        ("255.255.255.255", False),
    ],
)
def test_only_global_addresses_are_public(address: str, allowed: bool) -> None:
    assert is_public_address(address) is allowed


async def test_refuses_a_name_resolving_to_loopback() -> None:
    resolver = GuardedResolver(allow_private=False, inner=FakeDns("127.0.0.1"))
    with pytest.raises(UnsafeUrlError, match=re.escape("non-public address 127.0.0.1")):
        await resolver.resolve("npo.example.org", 443)


async def test_refuses_when_any_address_is_private() -> None:
    resolver = GuardedResolver(allow_private=False, inner=FakeDns("93.184.216.34", "10.0.0.5"))
    with pytest.raises(UnsafeUrlError):
        await resolver.resolve("npo.example.org", 443)


async def test_public_addresses_and_allowed_private_pass() -> None:
    public = GuardedResolver(allow_private=False, inner=FakeDns("93.184.216.34"))
    assert [r["host"] for r in await public.resolve("npo.example.org", 443)] == ["93.184.216.34"]
    private = GuardedResolver(allow_private=True, inner=FakeDns("127.0.0.1"))
    assert [r["host"] for r in await private.resolve("npo.example.org", 443)] == ["127.0.0.1"]


async def test_real_resolver_refuses_localhost() -> None:
    with pytest.raises(UnsafeUrlError):
        await GuardedResolver(allow_private=False).resolve("localhost", 80)


@pytest.mark.parametrize("host", ["2130706433", "127.1", "0x7f000001"])
async def test_numeric_forms_of_loopback_are_judged_by_what_they_resolve_to(host: str) -> None:
    """Not IP literals to ``ipaddress`` (nor to aiohttp): names, which resolve to 127.0.0.1."""
    resolver = GuardedResolver(allow_private=False)
    try:
        with pytest.raises(UnsafeUrlError, match=re.escape("non-public address 127.0.0.1")):
            await resolver.resolve(host, 80)
    finally:
        await resolver.close()


def test_ip_literals_are_checked_before_sending() -> None:
    with pytest.raises(UnsafeUrlError):
        check_literal_host("http://127.0.0.1:8080/x", allow_private=False)
    with pytest.raises(UnsafeUrlError):
        check_literal_host("http://[::1]:8080/x", allow_private=False)
    check_literal_host("http://127.0.0.1:8080/x", allow_private=True)
    check_literal_host("https://93.184.216.34/x", allow_private=False)
    check_literal_host("https://npo.example.org/x", allow_private=False)


@pytest.mark.parametrize(
    "url",
    [
        "http://100.64.0.1/x",
        "http://[2002:a00:1::1]/x",
        "http://[::ffff:10.0.0.1]:8080/x",
        "http://[::ffff:a00:1]/x",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1%25eth0]/x",
        "http://localhost:8080/x",
        "http://api.localhost/x",
    ],
)
def test_non_public_literals_and_loopback_names_are_refused_before_sending(url: str) -> None:
    with pytest.raises(UnsafeUrlError, match="private addresses are not allowed"):
        check_literal_host(url, allow_private=False)


async def test_a_literal_check_never_looks_a_name_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """Names are resolved by the connector's resolver (off the event loop), not by the checks."""

    def blocking_lookup(*args: object, **kwargs: object) -> None:
        raise AssertionError("socket.getaddrinfo called on the event loop")

    monkeypatch.setattr(socket, "getaddrinfo", blocking_lookup)
    check_literal_host("https://npo.example.org/x", allow_private=False)
    check_literal_host("https://93.184.216.34/x", allow_private=False)


async def ok(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def test_client_refuses_loopback_literal_and_name_when_not_allowed(
    serve, box, config_factory
) -> None:
    base = await serve(web.get("/ping", ok))
    port = base.rsplit(":", 1)[1]
    async with NpoHttpClient(box, allow_private=False) as client:
        with pytest.raises(UnsafeUrlError):
            await client.request(config_factory(base), "GET", "/ping")
        with pytest.raises(UnsafeUrlError, match="loopback name"):
            await client.request(config_factory(f"http://localhost:{port}"), "GET", "/ping")


async def test_dns_rebinding_is_caught_at_connect_time(serve, box, config_factory) -> None:
    base = await serve(web.get("/ping", ok))
    port = base.rsplit(":", 1)[1]
    # the name passed the config-time check while it resolved to a public address...
    config = config_factory(f"http://npo.example.org:{port}")
    dns = FakeDns("127.0.0.1")  # ...and now resolves to loopback
    async with NpoHttpClient(box, allow_private=False, resolver=dns) as client:
        with pytest.raises(UnsafeUrlError, match=re.escape("npo.example.org")):
            await client.request(config, "GET", "/ping")
    assert dns.asked == ["npo.example.org"]
    async with NpoHttpClient(box, allow_private=True, resolver=FakeDns("127.0.0.1")) as allowed:
        response = await allowed.request(config, "GET", "/ping")
    assert response.json == {"ok": True}


async def test_credentials_never_go_to_another_host(client, serve, config_factory) -> None:
    base = await serve(web.get("/ping", ok))
    config = config_factory(base, auth={"kind": "none"})
    with pytest.raises(UnsafeUrlError, match="not the host and port of base_url"):
        await client.request(config, "GET", "https://elsewhere.example.org/steal")
    other_port = f"{base.rsplit(':', 1)[0]}:{int(base.rsplit(':', 1)[1]) + 1}"
    with pytest.raises(UnsafeUrlError, match="not the host and port of base_url"):
        await client.request(config, "GET", f"{other_port}/steal")


async def test_redirects_followed_on_the_same_host_only(client, serve, config_factory) -> None:
    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound("/ping")

    async def away(request: web.Request) -> web.Response:
        raise web.HTTPFound("https://elsewhere.example.org/ping")

    async def post_moved(request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect("/ping")

    base = await serve(
        web.get("/ping", ok),
        web.get("/old", moved),
        web.get("/away", away),
        web.post("/post", post_moved),
    )
    config = config_factory(base)
    response = await client.request(config, "GET", "/old")
    assert response.status == 200 and response.url == f"{base}/ping"
    with pytest.raises(NpoRequestError, match="redirect to another host or port not followed"):
        await client.request(config, "GET", "/away")
    with pytest.raises(NpoRequestError, match="redirect of a POST not followed"):
        await client.request(config, "POST", "/post", json={"a": 1})


async def test_a_redirect_to_another_port_of_the_same_host_is_refused(
    client, serve, config_factory, box
) -> None:
    """Another port is another service (an admin console, a metadata proxy): not followed."""
    seen: list[str] = []

    async def other_service(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization", ""))
        return web.json_response({"internal": True})

    other = await serve(web.get("/internal", other_service))

    async def to_other_port(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"{other}/internal")

    base = await serve(web.get("/page", to_other_port))
    assert base.rsplit(":", 1)[0] == other.rsplit(":", 1)[0]  # same host, another port
    config = config_factory(base, auth={"kind": "bearer", "token": box.seal("npo-secret")})
    with pytest.raises(NpoRequestError, match="redirect to another host or port not followed"):
        await client.request(config, "GET", "/page")
    assert seen == []
