"""HTTP errors, classified by how the caller must react (see :mod:`npo_integration.errors`).

Fatal: the NPO refused for good (4xx), its answer is unusable, or the URL is
unsafe; retrying will not help. Retriable: the NPO is unreachable, slow,
overloaded or failing (connection errors, timeouts, 5xx, 408, 429); back off
and retry, honouring ``retry_after``.

:class:`NpoResponseError` is fatal rather than skippable on purpose: a body
that is not JSON, has no record list or carries an error inside a 200 concerns
the whole request or page, not one record. Skipping it would drop a page of
records silently and then commit the cursor past them; stopping surfaces the
reason and the next scheduled pull starts again from the committed cursor.

Every message is built from the public URL (no auth query parameters) and an
NPO reason text that is scrubbed of secrets and truncated.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from npo_integration.errors import FatalError, NpoIntegrationError, RetriableError

REASON_LIMIT = 200
BODY_LIMIT = 2000
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_RETRIABLE_4XX = frozenset({408, 429})
_WHITESPACE = re.compile(r"\s+")


def truncate(text: str, limit: int = REASON_LIMIT) -> str:
    """Collapse whitespace and cut ``text`` so an NPO's HTML error page cannot flood a log line."""
    flat = _WHITESPACE.sub(" ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class NpoRequestError(FatalError):
    """The NPO refused this request for good (4xx other than 408/429, or an unfollowed redirect)."""

    def __init__(self, message: str, *, status: int, reason: str = "", body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.body = body  # the answer's text, scrubbed and cut: error codes the reason omits


class UnsendableRequestError(FatalError):
    """A request that cannot be sent as configured (a header value with CR/LF, from a secret or
    an OAuth token): nothing reached the NPO, and a retry would fail the same way."""


class NpoUnavailableError(RetriableError):
    """The NPO could not be reached or could not answer now (connection error, 5xx, 408, 429).

    ``outcome_unknown`` is true when a non-idempotent request may have reached
    the NPO before the failure: the caller must find out (enrolment lookup)
    before sending it again.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        outcome_unknown: bool = False,
    ) -> None:
        super().__init__(message, retry_after=retry_after)
        self.status = status
        self.outcome_unknown = outcome_unknown


class NpoTimeoutError(NpoUnavailableError):
    """No answer within ``timeout_seconds``; for a POST the NPO may still have acted on it."""


class NpoResponseError(FatalError):
    """The NPO answered, but unusably: not JSON, the wrong shape, or an error inside a 200."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class CircuitOpenError(RetriableError):
    """Failing fast: this NPO failed repeatedly; ``retry_after``: time until a probe is allowed."""


class PaginationLoopError(FatalError):
    """The NPO sent a page token, URL or page content again, or the page cap was reached."""


class PageCapError(PaginationLoopError):
    """The NPO has a next page, but the walk's page cap (``max_pages``) was reached."""


class UnsafeUrlError(FatalError):
    """A URL points at a non-public address, another host than the NPO's, or is not a valid URL."""


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from ``Retry-After``: delta-seconds or an HTTP-date; else ``None``."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds or seconds == float("inf"):  # NaN or inf
        return None
    return max(0.0, seconds)


def error_for_status(
    status: int,
    *,
    method: str,
    url: str,
    reason: str = "",
    retry_after: str | None = None,
    now: datetime | None = None,
    body: str = "",
) -> NpoIntegrationError | None:
    """The one place a status becomes an error class; ``None`` for 2xx.

    408, 429 and 5xx are retriable (with ``Retry-After`` parsed); any other
    4xx or an unfollowed 3xx is fatal; anything else (1xx) is an unusable answer.
    ``reason`` and ``body`` must already be scrubbed of secrets.
    """
    if 200 <= status < 300:
        return None
    text = truncate(reason)
    message = f"{method} {url} -> HTTP {status}" + (f": {text}" if text else "")
    if status in _RETRIABLE_4XX or 500 <= status < 600:
        return NpoUnavailableError(
            message, status=status, retry_after=parse_retry_after(retry_after, now=now)
        )
    if 300 <= status < 500:
        return NpoRequestError(message, status=status, reason=text, body=truncate(body, BODY_LIMIT))
    return NpoResponseError(message, status=status)
