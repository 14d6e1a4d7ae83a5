"""Styles where the NPO says what comes next: a body cursor, a next URL, a Link header."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from yarl import URL

from npo_integration.expressions import MISSING, parse_path
from npo_integration.http.errors import NpoResponseError
from npo_integration.http.response import NpoResponse
from npo_integration.models.npo_config import (
    BodyCursorPagination,
    LinkHeaderPagination,
    NextUrlPagination,
)
from npo_integration.pull.pagination.base import PageRequest, Paginator
from npo_integration.pull.records import type_name


class BodyCursorPaginator(Paginator[BodyCursorPagination]):
    """``{"items": [..], "meta": {"next_cursor": "abc"}}`` → ``?cursor=abc``; null or "" stops."""

    def next_request(self, response: NpoResponse, records: Sequence[Any]) -> PageRequest | None:
        value = parse_path(self.config.cursor_path).get(response.json)
        if value is MISSING or value is None or value == "" or value is False:
            return None
        if isinstance(value, (dict, list)):
            raise NpoResponseError(
                f"cursor_path {self.config.cursor_path!r} holds {type_name(value)}, not a cursor"
            )
        return PageRequest(params={self.config.cursor_param: str(value)})


_UrlConfigT = TypeVar("_UrlConfigT", NextUrlPagination, LinkHeaderPagination)


class _UrlPaginator(Paginator[_UrlConfigT]):
    def _follow(self, response: NpoResponse, target: str) -> PageRequest:
        """Resolve ``target`` against the URL just fetched (Salesforce: ``/services/data/...``)."""
        absolute = str(URL(response.url).join(URL(target)))
        return PageRequest(url=self.clean_url(absolute))


class NextUrlPaginator(_UrlPaginator[NextUrlPagination]):
    """The next page's URL at ``next_url_path`` in the body (Salesforce ``nextRecordsUrl``)."""

    def next_request(self, response: NpoResponse, records: Sequence[Any]) -> PageRequest | None:
        value = parse_path(self.config.next_url_path).get(response.json)
        if value is MISSING or value is None or value == "":
            return None
        if not isinstance(value, str):
            raise NpoResponseError(
                f"next_url_path {self.config.next_url_path!r} holds {type_name(value)}, not a URL"
            )
        return self._follow(response, value)


class LinkHeaderPaginator(_UrlPaginator[LinkHeaderPagination]):
    """RFC 8288 ``Link: <...>; rel="next"`` (Canvas LMS); no next link stops."""

    def next_request(self, response: NpoResponse, records: Sequence[Any]) -> PageRequest | None:
        target = response.links.get("next")
        return self._follow(response, target) if target else None
