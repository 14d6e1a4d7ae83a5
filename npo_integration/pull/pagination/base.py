"""The shared pagination loop: ask each style for the next page, refuse loops, cap the pages."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode

from npo_integration.http.errors import PageCapError, PaginationLoopError
from npo_integration.http.response import NpoResponse

ConfigT = TypeVar("ConfigT")
DEFAULT_MAX_PAGES = 10_000


@dataclass(frozen=True, slots=True)
class PageRequest:
    """How to ask for a page: ``params`` on the stream's own URL, or a full ``url`` from the NPO."""

    params: dict[str, str] = field(default_factory=dict)
    url: str | None = None
    """Absolute next-page URL (next_url, link_header): replaces the stream URL and its params."""
    values: dict[str, int] = field(default_factory=dict)
    """The page's numbers for a stream that writes them itself, as ``{page.NAME}`` in its params
    (CiviCRM's ``limit`` and ``offset`` inside one JSON param); the ``params`` are then not sent."""

    def key(self) -> str:
        if self.url is not None:
            return self.url
        return urlencode(sorted(self.params.items()) + sorted(self.values.items()))


def _identity(url: str) -> str:
    return url


class Paginator(ABC, Generic[ConfigT]):
    """One walk over one stream. Subclasses say how the first and the next page are asked for.

    :meth:`advance` is the template (as singer-sdk's ``BaseAPIPaginator``):
    it stops at the page cap, refuses a page token or URL seen before, and
    refuses a page whose records equal the previous page's (an NPO that
    ignores the page parameter would otherwise be walked until the cap).
    """

    def __init__(
        self,
        config: ConfigT,
        *,
        max_pages: int = DEFAULT_MAX_PAGES,
        clean_url: Callable[[str], str] = _identity,
    ) -> None:
        self.config = config
        self.max_pages = max_pages
        self.clean_url = clean_url
        self.count = 0
        self._seen: set[str] = set()
        self._last_records: list[Any] | None = None

    def first(self) -> PageRequest:
        request = self.first_request()
        self._seen.add(request.key())
        return request

    def advance(self, response: NpoResponse, records: Sequence[Any]) -> PageRequest | None:
        """The request for the page after ``response``, or ``None`` when the stream is exhausted."""
        self.count += 1
        self._check_repeated_content(records)
        following = self.next_request(response, records)
        if following is None:
            return None
        if self.count >= self.max_pages:
            raise PageCapError(
                f"stopped after {self.count} pages: the page cap (max_pages) was reached"
            )
        key = following.key()
        if key in self._seen:
            raise PaginationLoopError(
                f"the NPO sent next page {key!r} again after {self.count} pages"
            )
        self._seen.add(key)
        return following

    def _check_repeated_content(self, records: Sequence[Any]) -> None:
        """A page equal to the one before (same records, same order) means the NPO ignores the
        paging parameter. Compared as objects with the page before, kept for it: two different
        pages differ at their first record, so this costs next to nothing."""
        if not records:
            return
        if self._last_records is not None and list(records) == self._last_records:
            raise PaginationLoopError(
                f"page {self.count} repeats the records of page {self.count - 1}; "
                "does the NPO ignore the pagination parameter?"
            )
        self._last_records = list(records)

    def first_request(self) -> PageRequest:
        """The first page: the stream's URL and params, plus whatever this style adds."""
        return PageRequest()

    @abstractmethod
    def next_request(self, response: NpoResponse, records: Sequence[Any]) -> PageRequest | None:
        """The next page, or ``None`` to stop."""


AnyPaginator = Paginator[Any]
