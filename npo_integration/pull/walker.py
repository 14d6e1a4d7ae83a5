"""Walking one stream page by page: templating, pagination, record extraction, cursor candidate.

The HTTP client makes each call (retries, auth, rate limits); this module decides which calls.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from npo_integration.expressions import parse_path
from npo_integration.http.classify import Scrub, require_json
from npo_integration.http.client import NpoHttpClient
from npo_integration.http.errors import NpoResponseError
from npo_integration.http.response import NpoResponse
from npo_integration.http.urls import without_params
from npo_integration.models.npo_config import SourceOrConfig, StreamConfig, one_source
from npo_integration.pull.pagination import (
    DEFAULT_MAX_PAGES,
    AnyPaginator,
    PageRequest,
    build_paginator,
)
from npo_integration.pull.records import extract_records, max_cursor
from npo_integration.pull.stream_request import stream_request

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a stream; the caller publishes it and commits the cursor before the next."""

    records: list[Any] = field(repr=False)
    page_number: int
    url: str
    next_cursor_candidate: str | None = None
    """The largest ``cursor_field`` in this page's records; ``None`` if not incremental or none."""


FetchPage = Callable[[str, str, dict[str, str]], Awaitable[NpoResponse]]
"""``(method, url_or_path, params) -> response``: one retried, classified request."""


async def walk_pages(
    fetch: FetchPage,
    stream: StreamConfig,
    paginator: AnyPaginator,
    *,
    cursor: str | None,
    parent: Mapping[str, Any] | None,
    scrub: Scrub,
    label: str = "",
) -> AsyncIterator[Page]:
    """Yield each page before asking for the next, so the caller can publish and commit between.

    A body that is not JSON or whose ``records_path`` is not a list stops the
    walk with :class:`NpoResponseError`.
    """
    first = paginator.first()
    path, params = stream_request(stream, cursor=cursor, parent=parent, page=first.values)
    records_path = parse_path(stream.records_path, empty_is_root=True)
    incremental = stream.incremental
    cursor_field = parse_path(incremental.cursor_field) if incremental else None
    number = 0
    page_request: PageRequest | None = first
    while page_request is not None:
        if page_request.url is not None:
            response = await fetch(stream.method, page_request.url, {})
        elif stream.pages_in_params:
            path, params = stream_request(
                stream, cursor=cursor, parent=parent, page=page_request.values
            )
            response = await fetch(stream.method, path, params)
        else:
            response = await fetch(stream.method, path, {**params, **page_request.params})
        body = require_json(response, method=stream.method, scrub=scrub)
        try:
            records = extract_records(body, records_path)
            candidate = max_cursor(records, cursor_field) if cursor_field else None
        except NpoResponseError as exc:
            raise NpoResponseError(
                f"{stream.method} {response.url}: {exc}", status=response.status
            ) from None
        number += 1
        logger.debug("%s page %d of %s: %d records", label, number, path, len(records))
        yield Page(
            records=records,
            page_number=number,
            url=response.url,
            next_cursor_candidate=candidate,
        )
        page_request = paginator.advance(response, records)


def stream_pages(
    client: NpoHttpClient,
    given: SourceOrConfig,
    stream: StreamConfig,
    *,
    cursor: str | None = None,
    parent: Mapping[str, Any] | None = None,
    max_pages: int = DEFAULT_MAX_PAGES,
    retry: bool = True,
) -> AsyncIterator[Page]:
    """Walk a stream through ``client`` one page at a time, so the caller can publish and commit
    between pages. ``cursor`` is the committed incremental cursor (``None``: use
    ``incremental.initial``); ``parent`` is the parent record of a child stream. ``retry=False``
    (a preview) shows the first failure rather than retrying it with backoff."""
    config = one_source(given)
    auth = client.authenticator(config)
    paginator = build_paginator(
        stream.pagination,
        max_pages=max_pages,
        clean_url=partial(without_params, names=auth.secret_params),
    )

    async def fetch(method: str, url: str, params: dict[str, str]) -> NpoResponse:
        return await client.request(config, method, url, params=params, retry=retry)

    return walk_pages(
        fetch,
        stream,
        paginator,
        cursor=cursor,
        parent=parent,
        scrub=auth.scrub,
        label=f"npo={config.state_key}",
    )
