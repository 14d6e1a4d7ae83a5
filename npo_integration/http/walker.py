"""Walking one stream page by page: templating, pagination, record extraction, cursor candidate."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from npo_integration.expressions import parse_path
from npo_integration.http.classify import Scrub, require_json
from npo_integration.http.errors import NpoResponseError
from npo_integration.http.pagination import AnyPaginator
from npo_integration.http.records import extract_records, max_cursor
from npo_integration.http.response import NpoResponse, Page
from npo_integration.http.templating import stream_request
from npo_integration.models.npo_config import StreamConfig

logger = logging.getLogger(__name__)

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
    path, params = stream_request(stream, cursor=cursor, parent=parent)
    records_path = parse_path(stream.records_path, empty_is_root=True)
    incremental = stream.incremental
    cursor_field = parse_path(incremental.cursor_field) if incremental else None
    page_request = paginator.first()
    number = 0
    while page_request is not None:
        if page_request.url is not None:
            response = await fetch(stream.method, page_request.url, {})
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
