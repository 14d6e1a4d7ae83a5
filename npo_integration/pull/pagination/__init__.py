"""One paginator class per pagination ``style`` of a stream, picked by a name → class mapping."""

from __future__ import annotations

from collections.abc import Callable

from npo_integration.models.npo_config import PaginationConfig
from npo_integration.pull.pagination.base import (
    DEFAULT_MAX_PAGES,
    AnyPaginator,
    PageRequest,
    Paginator,
)
from npo_integration.pull.pagination.linked import (
    BodyCursorPaginator,
    LinkHeaderPaginator,
    NextUrlPaginator,
)
from npo_integration.pull.pagination.numbered import (
    OffsetPaginator,
    PageNumberPaginator,
    SinglePagePaginator,
)

PAGINATORS: dict[str, type[AnyPaginator]] = {
    "none": SinglePagePaginator,
    "page_number": PageNumberPaginator,
    "offset": OffsetPaginator,
    "body_cursor": BodyCursorPaginator,
    "next_url": NextUrlPaginator,
    "link_header": LinkHeaderPaginator,
}


def build_paginator(
    config: PaginationConfig,
    *,
    max_pages: int = DEFAULT_MAX_PAGES,
    clean_url: Callable[[str], str] = lambda url: url,
) -> AnyPaginator:
    """A fresh paginator (one per walk) for ``config.style``."""
    return PAGINATORS[config.style](config, max_pages=max_pages, clean_url=clean_url)


__all__ = [
    "DEFAULT_MAX_PAGES",
    "PAGINATORS",
    "AnyPaginator",
    "BodyCursorPaginator",
    "LinkHeaderPaginator",
    "NextUrlPaginator",
    "OffsetPaginator",
    "PageNumberPaginator",
    "PageRequest",
    "Paginator",
    "SinglePagePaginator",
    "build_paginator",
]
