"""Guard against server-side request forgery through NPO-supplied URLs.

An NPO's base URL comes from an operator or from the NPO itself, so by default
the service refuses anything but http(s) to public addresses. Tests and the
demo run on loopback and opt in with ``NPO_ALLOW_PRIVATE_NPO_URLS=true``.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from npo_integration.errors import ConfigError


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


def is_public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def resolve_host(host: str) -> list[str]:
    try:
        # str(): the address of an IPv4 or IPv6 sockaddr is already a str; the stubs allow an int
        return (
            [host]
            if _is_ip(host)
            else sorted({str(info[4][0]) for info in socket.getaddrinfo(host, None)})
        )
    except socket.gaierror as exc:
        raise ConfigError(f"base_url host {host!r} does not resolve: {exc.strerror}") from None


def check_url_allowed(url: str, *, allow_private: bool) -> None:
    """Raise ``ConfigError`` if ``url`` points at a private, loopback or link-local address."""
    host = urlsplit(url).hostname or ""
    if allow_private:
        return
    if host.lower() in ("localhost", "localhost.localdomain"):
        raise ConfigError(
            f"base_url host {host!r} is a loopback name; private addresses are not allowed"
        )
    for address in resolve_host(host):
        if not is_public_address(address):
            raise ConfigError(
                f"base_url host {host!r} resolves to non-public address {address}; "
                "set NPO_ALLOW_PRIVATE_NPO_URLS=true to allow it"
            )


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
