from datetime import UTC, datetime

import pytest

from npo_integration.errors import FatalError, RetriableError, SkippableError
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
    truncate,
)

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize("status", [200, 201, 204, 299])
def test_success_statuses_are_not_errors(status: int) -> None:
    assert error_for_status(status, method="GET", url="https://npo.example/x") is None


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 410, 422, 451])
def test_permanent_4xx_is_fatal(status: int) -> None:
    error = error_for_status(
        status, method="GET", url="https://npo.example/x", reason="no such course"
    )
    assert isinstance(error, NpoRequestError) and isinstance(error, FatalError)
    assert error.status == status
    assert error.reason == "no such course"
    assert str(error) == f"GET https://npo.example/x -> HTTP {status}: no such course"


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504, 599])
def test_408_429_and_5xx_are_retriable(status: int) -> None:
    error = error_for_status(status, method="POST", url="https://npo.example/x", retry_after="7")
    assert isinstance(error, NpoUnavailableError) and isinstance(error, RetriableError)
    assert error.retry_after == 7.0
    assert error.status == status
    assert error.outcome_unknown is False


def test_unfollowed_redirect_is_fatal_and_1xx_is_unusable() -> None:
    assert isinstance(error_for_status(302, method="GET", url="u"), NpoRequestError)
    assert isinstance(error_for_status(101, method="GET", url="u"), NpoResponseError)


def test_reason_is_truncated_and_flattened() -> None:
    error = error_for_status(400, method="GET", url="u", reason="<html>\n  " + "x" * 500)
    assert isinstance(error, NpoRequestError)
    assert len(error.reason) == 200 and error.reason.endswith("…")
    assert "\n" not in str(error)
    assert truncate("  a \n\t b  ") == "a b"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", 120.0),
        (" 1.5 ", 1.5),
        ("0", 0.0),
        ("-3", 0.0),
        ("Wed, 01 May 2024 12:00:30 GMT", 30.0),
        ("Wed, 01 May 2024 11:59:00 GMT", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
        ("nan", None),
    ],
)
def test_retry_after_seconds_or_http_date(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, now=NOW) == expected


def test_classification_by_reaction() -> None:
    assert issubclass(NpoResponseError, FatalError)
    assert not issubclass(NpoResponseError, SkippableError)
    assert issubclass(NpoTimeoutError, NpoUnavailableError)
    assert issubclass(CircuitOpenError, RetriableError)
    assert issubclass(PaginationLoopError, FatalError)
    assert issubclass(UnsafeUrlError, FatalError)
    assert NpoTimeoutError("t", outcome_unknown=True).outcome_unknown is True
