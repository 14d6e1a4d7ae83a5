"""The other workers of the deployment, and asking each of them for its share of an answer.

Every worker learns the others' web addresses (their ``canonical_url``) from the partition
assignment: Faust's assignor shares each member's URL with the partitions it holds, which is how
``@app.table_route`` forwards a request. A status gathers from them through the admin API, with
the admin token; a worker that does not answer in ``PEER_TIMEOUT`` is named in the answer, not
waited for.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from pydantic import BaseModel
from yarl import URL

from npo_integration.app import app, settings

PEER_TIMEOUT = 5.0


class PeerAnswer(BaseModel):
    url: str
    body: dict[str, Any] | None = None
    error: str | None = None


def _ident(url: str | URL) -> tuple[str, int]:
    parsed = URL(str(url))
    return (parsed.host or "", parsed.port or 80)


def own_url() -> str:
    return str(app.conf.canonical_url)


def worker_urls() -> list[str]:
    """Every worker holding partitions in the current assignment, this one included."""
    urls = {str(url) for url in app.assignor.tables_metadata()}
    urls.add(own_url())
    by_ident = {_ident(url): url for url in sorted(urls)}
    by_ident[_ident(own_url())] = own_url()
    return sorted(by_ident.values())


def is_own(url: str) -> bool:
    return _ident(url) == _ident(own_url())


async def ask(url: str, path: str) -> PeerAnswer:
    """GET ``path`` of the worker at ``url`` with the admin token; an error is one line."""
    token = settings.admin_token.get_secret_value() if settings.admin_token else ""
    try:
        async with app.http_client.get(
            f"{url.rstrip('/')}{path}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=aiohttp.ClientTimeout(total=PEER_TIMEOUT),
        ) as response:
            text = await response.text()
            if response.status != 200:
                return PeerAnswer(url=url, error=f"HTTP {response.status}: {text[:200]}")
            body = json.loads(text)
            return PeerAnswer(url=url, body=body if isinstance(body, dict) else None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return PeerAnswer(url=url, error=f"no answer: {type(exc).__name__} {exc}".strip())


async def ask_others(path: str) -> list[PeerAnswer]:
    """``path`` of every other worker, at once."""
    others = [url for url in worker_urls() if not is_own(url)]
    return list(await asyncio.gather(*(ask(url, path) for url in others)))
