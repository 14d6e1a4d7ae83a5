"""One HTTP exchange on the shared session, with aiohttp's exceptions mapped to ours.

Messages name the public URL and the failure kind only: aiohttp's own texts
for some errors quote the full URL, query string (and so a query-string key)
included, so they are neither repeated nor chained.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from npo_integration.http.auth.base import OutgoingRequest
from npo_integration.http.errors import (
    IDEMPOTENT_METHODS,
    NpoResponseError,
    NpoTimeoutError,
    NpoUnavailableError,
    UnsafeUrlError,
    UnsendableRequestError,
)
from npo_integration.http.links import parse_link_header
from npo_integration.http.response import NpoResponse

DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024
_SAFE_TEXT_ERRORS = (
    aiohttp.ClientConnectorError,
    aiohttp.ServerDisconnectedError,
    aiohttp.ClientPayloadError,
)


async def send(
    session: aiohttp.ClientSession,
    request: OutgoingRequest,
    *,
    public_url: str,
    timeout: float,
    json: Any = None,
    form: Any = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> NpoResponse:
    """Send ``request`` (already signed) without following redirects, and read the whole answer."""
    method = request.method
    maybe_acted = method not in IDEMPOTENT_METHODS
    try:
        async with session.request(
            method,
            request.url,
            params=request.params or None,
            headers=request.headers,
            json=json,
            data=form,
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as resp:
            raw = await _read_limited(resp, max_body_bytes, method=method, public_url=public_url)
            return NpoResponse.build(
                status=resp.status,
                url=public_url,
                headers=resp.headers,
                raw=raw,
                charset=resp.charset,
                links=parse_link_header(resp.headers.getall("Link", []), public_url),
            )
    except aiohttp.InvalidURL:
        raise UnsafeUrlError(f"{method} {public_url}: not a valid URL") from None
    except aiohttp.ConnectionTimeoutError:
        raise NpoTimeoutError(
            f"{method} {public_url}: timed out connecting after {timeout}s"
        ) from None
    except TimeoutError:
        raise NpoTimeoutError(
            f"{method} {public_url}: no answer within {timeout}s",
            outcome_unknown=maybe_acted,
        ) from None
    except aiohttp.ClientConnectorError as exc:
        raise NpoUnavailableError(
            f"{method} {public_url}: cannot connect: {_describe(exc)}"
        ) from None
    except (aiohttp.ClientError, OSError) as exc:
        raise NpoUnavailableError(
            f"{method} {public_url}: connection failed: {_describe(exc)}",
            outcome_unknown=maybe_acted,
        ) from None
    except ValueError as exc:
        # aiohttp refuses a header holding CR/LF (a secret, an OAuth token) before sending;
        # its text may quote the value, so only the kind is kept.
        raise UnsendableRequestError(
            f"{method} {public_url}: request refused before sending: {type(exc).__name__} "
            "(a header or parameter value holds CR, LF or another forbidden character)"
        ) from None


async def _read_limited(
    resp: aiohttp.ClientResponse, limit: int, *, method: str, public_url: str
) -> bytes:
    """The body, refusing one larger than ``limit`` rather than holding it all in memory."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise NpoResponseError(
                f"{method} {public_url} -> HTTP {resp.status}: body larger than {limit} bytes",
                status=resp.status,
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, _SAFE_TEXT_ERRORS) and str(exc):
        return f"{type(exc).__name__}: {exc}"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{type(exc).__name__}: {exc.strerror}"
    return type(exc).__name__
