"""The shared HTTP client every NPO call goes through, and the parts it is made of.

``NpoHttpClient.request`` for single calls (enrolments), ``NpoHttpClient.pages``
for walking a stream page by page. Errors are classified by reaction, see
:mod:`npo_integration.http.errors`.
"""

from npo_integration.http.auth import AUTHENTICATORS, Authenticator, build_authenticator
from npo_integration.http.circuit import CircuitBreaker, CircuitState
from npo_integration.http.client import NpoHttpClient
from npo_integration.http.errors import (
    CircuitOpenError,
    NpoRequestError,
    NpoResponseError,
    NpoTimeoutError,
    NpoUnavailableError,
    PaginationLoopError,
    UnsafeUrlError,
    error_for_status,
    parse_retry_after,
)
from npo_integration.http.links import parse_link_header
from npo_integration.http.pagination import PAGINATORS, Paginator, build_paginator
from npo_integration.http.ratelimit import TokenBucket
from npo_integration.http.records import (
    extract_records,
    max_cursor,
    newer_cursor,
    record_id,
)
from npo_integration.http.resolver import GuardedResolver
from npo_integration.http.response import NpoResponse, Page
from npo_integration.http.retry import Retrier

__all__ = [
    "AUTHENTICATORS",
    "PAGINATORS",
    "Authenticator",
    "CircuitBreaker",
    "CircuitOpenError",
    "CircuitState",
    "GuardedResolver",
    "NpoHttpClient",
    "NpoRequestError",
    "NpoResponse",
    "NpoResponseError",
    "NpoTimeoutError",
    "NpoUnavailableError",
    "Page",
    "PaginationLoopError",
    "Paginator",
    "Retrier",
    "TokenBucket",
    "UnsafeUrlError",
    "build_authenticator",
    "build_paginator",
    "error_for_status",
    "extract_records",
    "max_cursor",
    "newer_cursor",
    "parse_link_header",
    "parse_retry_after",
    "record_id",
]
