"""Styles where the client counts: no pagination, page numbers, offset/limit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from npo_integration.http.response import NpoResponse
from npo_integration.models.npo_config import NoPagination, OffsetPagination, PageNumberPagination
from npo_integration.pull.pagination.base import PageRequest, Paginator


class SinglePagePaginator(Paginator[NoPagination]):
    """The whole stream comes in one response."""

    def next_request(self, response: NpoResponse, records: Sequence[Any]) -> PageRequest | None:
        return None


class PageNumberPaginator(Paginator[PageNumberPagination]):
    """``?page=N&per_page=S``; stops on an empty page or one shorter than ``page_size``.

    ``page_size`` must not exceed the NPO's own maximum: a server that caps
    ``per_page`` lower returns short pages, which read as the last page.
    """

    def __init__(self, config: PageNumberPagination, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.page = config.start_page

    def _params(self) -> dict[str, str]:
        params = {self.config.page_param: str(self.page)}
        if self.config.size_param:
            params[self.config.size_param] = str(self.config.page_size)
        return params

    def _request(self) -> PageRequest:
        values = {"number": self.page, "size": self.config.page_size}
        return PageRequest(params=self._params(), values=values)

    def first_request(self) -> PageRequest:
        return self._request()

    def next_request(self, response: NpoResponse, records: Sequence[Any]) -> PageRequest | None:
        if len(records) < self.config.page_size:
            return None
        self.page += 1
        return self._request()


class OffsetPaginator(Paginator[OffsetPagination]):
    """``?offset=O&limit=L``; advances by the records received, stops on an empty or short page."""

    def __init__(self, config: OffsetPagination, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.offset = 0

    def _params(self) -> dict[str, str]:
        return {
            self.config.offset_param: str(self.offset),
            self.config.limit_param: str(self.config.limit),
        }

    def _request(self) -> PageRequest:
        values = {"offset": self.offset, "limit": self.config.limit}
        return PageRequest(params=self._params(), values=values)

    def first_request(self) -> PageRequest:
        return self._request()

    def next_request(self, response: NpoResponse, records: Sequence[Any]) -> PageRequest | None:
        if len(records) < self.config.limit:
            return None
        self.offset += len(records)
        return self._request()
