"""SSRF protection at connect time.

A config-time check of ``base_url`` cannot see DNS rebinding: a name that
resolved to a public address when the config was saved may resolve to
127.0.0.1 or 169.254.169.254 at request time. The connector's resolver is the
last place every connection passes through, so it refuses non-public
addresses there (resolving on a thread through ``loop.getaddrinfo``, never
blocking the event loop). aiohttp skips the resolver for IP literals, so
:func:`check_literal_host` covers those before a request is sent.
"""

from __future__ import annotations

import socket

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from npo_integration.http.errors import UnsafeUrlError
from npo_integration.url_policy import is_public_address, non_public_host


class GuardedResolver(AbstractResolver):
    """Wraps a resolver and refuses a host if ANY of its addresses is non-public.

    Refusing the whole answer (not filtering it) keeps a name that mixes a
    public and a private address from reaching the private one on a retry.
    """

    def __init__(self, *, allow_private: bool, inner: AbstractResolver | None = None) -> None:
        self._allow_private = allow_private
        self._owns_inner = inner is None
        self._inner = inner if inner is not None else DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if not self._allow_private:
            for result in results:
                if not is_public_address(result["host"]):
                    raise UnsafeUrlError(
                        f"host {host!r} resolves to non-public address {result['host']}; "
                        "private addresses are not allowed"
                    )
        return results

    async def close(self) -> None:
        if self._owns_inner:
            await self._inner.close()


def check_literal_host(url: str, *, allow_private: bool) -> None:
    """Refuse a URL whose host is a non-public IP literal (those never reach the resolver)
    or a loopback name."""
    if allow_private:
        return
    reason = non_public_host(url)
    if reason is not None:
        raise UnsafeUrlError(f"{reason}; private addresses are not allowed")
