"""Guard against server-side request forgery through NPO-supplied URLs: which addresses are public.

An NPO's base URL comes from an operator or from the NPO itself, so by default
the service calls nothing but http(s) on globally reachable addresses. This
module judges addresses and URLs without any I/O: an IP literal is judged here,
when a config is stored and before each request; a name is judged when the
worker connects (``http/resolver.py``), on every connection, because what it
resolves to can change (DNS rebinding). Tests and the demo run on loopback and
opt in with ``NPO_ALLOW_PRIVATE_NPO_URLS=true``.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from npo_integration.errors import ConfigError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
"""NAT64 (RFC 6052): the gateway connects to the IPv4 address in the last 32 bits."""

_NOT_GLOBAL_V6 = (
    ipaddress.IPv6Network("2002::/16"),  # 6to4 (RFC 3056): reaches the IPv4 address it embeds
    ipaddress.IPv6Network("fec0::/10"),  # site-local (RFC 3879)
)
"""Deprecated ranges Python 3.11's ``is_global`` still calls global."""

LOOPBACK_NAMES = ("localhost", "localhost.localdomain")
"""Names that mean this machine (and every ``*.localhost``, RFC 6761), refused before any lookup."""


def parse_http_url(value: str) -> str:
    """Return ``value`` if it is an absolute http(s) URL with a host, else raise ``ValueError``."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"scheme must be http or https, got {parts.scheme or 'none'!r}")
    if not parts.hostname:
        raise ValueError("URL has no host")
    if parts.username or parts.password:
        raise ValueError("credentials in the URL are not allowed; use the auth section")
    return value.rstrip("/")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv4-mapped (``::ffff:a.b.c.d``) or NAT64 address actually reaches."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF)
    return None


def is_public_address(address: str | IPAddress) -> bool:
    """Whether ``address`` is globally reachable: an allow-list (``is_global``), not a deny-list.

    Shared (100.64.0.0/10), private, loopback, link-local (169.254.169.254, the
    cloud metadata service), documentation, benchmarking, reserved and multicast
    addresses are not; an address that embeds an IPv4 address is judged by it.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0] if isinstance(address, str) else address)
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return is_public_address(embedded)
        if any(ip in network for network in _NOT_GLOBAL_V6):
            return False
    return ip.is_global and not ip.is_multicast and not ip.is_reserved


def literal_address(host: str) -> IPAddress | None:
    """``host`` as an IP address when it is one (``[...]``, an IPv6 zone allowed), else ``None``."""
    candidate = host.strip("[]").split("%", 1)[0]
    if ":" not in candidate and not candidate.replace(".", "").isdigit():
        # a name: ip_address accepts only dotted digits or a colon form, and raising for each
        # name cost a third of a config's URL check and of every request's (bench/registry.py)
        return None
    try:
        return ipaddress.ip_address(candidate)
    except ValueError:
        return None


def non_public_host(url: str) -> str | None:
    """Why ``url``'s host is refused without a lookup (a non-public literal, a loopback name);
    ``None`` for a public literal or any other name (judged when connecting)."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return f"host {host!r} is a loopback name"
    address = literal_address(host)
    if address is not None and not is_public_address(address):
        return f"host {host!r} is a non-public address"
    return None


def check_url_allowed(url: str, *, allow_private: bool, field: str = "base_url") -> None:
    """Raise ``ConfigError`` naming ``field`` if ``url``'s host is a loopback name or a
    non-public IP literal.

    No lookup here (a config is checked on the event loop, and again when its
    command is applied): a name is judged at connect time, every time.
    """
    if allow_private:
        return
    reason = non_public_host(url)
    if reason is not None:
        raise ConfigError(
            f"{field}: {reason}; private addresses are not allowed "
            "(NPO_ALLOW_PRIVATE_NPO_URLS=true allows them)"
        )
