"""Classifying how an NPO call ended, and the backoff before the next attempt."""

from __future__ import annotations

import pytest

from npo_integration.errors import RetriableError
from npo_integration.http.errors import (
    CircuitOpenError,
    NpoRequestError,
    NpoResponseError,
    NpoTimeoutError,
    NpoUnavailableError,
)
from npo_integration.models.npo_config import RetryConfig
from npo_integration.push.outcomes import Answered, Refused, Unavailable, perform, retry_policy
from tests.unit.push.conftest import make_config, response


async def outcome_of(
    error: BaseException | None = None, status: int = 201, body: object = None, method: str = "GET"
) -> object:
    async def send():  # type: ignore[no-untyped-def]
        if error is not None:
            raise error
        return response(status, body)

    return await perform(send, method=method)


async def test_a_2xx_is_answered_with_its_json_body() -> None:
    assert await outcome_of(body={"enrolment_id": "e"}) == Answered(201, {"enrolment_id": "e"})


async def test_a_4xx_is_refused_with_the_npo_reason_and_status() -> None:
    error = NpoRequestError("POST /api/enrolments -> HTTP 422: no offering 'x'", status=422)
    assert await outcome_of(error) == Refused(
        "POST /api/enrolments -> HTTP 422: no offering 'x'", 422
    )
    assert isinstance(await outcome_of(NpoResponseError("not JSON")), Refused)


async def test_transient_failures_keep_retry_after_and_whether_the_npo_may_have_acted() -> None:
    assert await outcome_of(NpoUnavailableError("429", status=429, retry_after=3)) == Unavailable(
        "429", 3.0
    )
    timeout = await outcome_of(NpoTimeoutError("no answer", outcome_unknown=True))
    assert timeout == Unavailable("no answer", outcome_unknown=True)
    circuit = await outcome_of(CircuitOpenError("open", retry_after=5))
    assert circuit == Unavailable("open", 5, counted=False)
    assert await outcome_of(RetriableError("x")) == Unavailable("x")


async def test_a_failed_upsert_is_sent_again_not_resolved() -> None:
    """A PATCH enrolment is an upsert keyed in its path: a 503 or a lost answer is no unknown."""
    for error in (
        NpoUnavailableError("503", status=503),
        NpoTimeoutError("no answer", outcome_unknown=True),
    ):
        outcome = await outcome_of(error, method="PATCH")
        assert outcome == Unavailable(str(error)), outcome
    post = await outcome_of(NpoUnavailableError("503", status=503), method="POST")
    assert post == Unavailable("503", outcome_unknown=True)


async def test_an_unforeseen_error_is_an_unknown_outcome_not_a_crash() -> None:
    outcome = await outcome_of(RuntimeError("boom"))
    assert outcome == Unavailable("RuntimeError: boom", outcome_unknown=True)


@pytest.mark.parametrize(
    ("attempt", "fraction", "retry_after", "expected"),
    [
        (1, 0.0, None, 0.5),
        (1, 0.999, None, 0.9995),
        (3, 0.0, None, 2.0),
        (10, 1.0, None, 8.0),  # capped at backoff_max_seconds
        (1, 0.0, 5.0, 5.0),  # Retry-After wins when later
        (4, 1.0, 1.0, 8.0),
    ],
)
def test_retry_delay(
    attempt: int, fraction: float, retry_after: float | None, expected: float
) -> None:
    policy = retry_policy(
        make_config(retry=RetryConfig(backoff_base_seconds=1, backoff_max_seconds=8))
    )
    assert policy.delay(attempt, fraction=fraction, retry_after=retry_after) == pytest.approx(
        expected
    )


@pytest.mark.parametrize(
    ("method", "status", "unknown"),
    [
        ("POST", 504, True),
        ("POST", 500, True),
        ("POST", 503, True),
        ("POST", 429, False),
        ("GET", 504, False),
        ("DELETE", 500, False),
        ("PUT", 502, False),
    ],
)
async def test_a_5xx_answer_to_a_post_is_an_unknown_outcome(
    method: str, status: int, unknown: bool
) -> None:
    async def send():  # type: ignore[no-untyped-def]
        raise NpoUnavailableError(f"HTTP {status}", status=status)

    outcome = await perform(send, method=method)
    assert isinstance(outcome, Unavailable) and outcome.outcome_unknown is unknown


async def test_a_refusal_keeps_the_npo_answer_for_already_enrolled_codes() -> None:
    body = '[{"errorCode": "DUPLICATE_VALUE"}]'
    outcome = await outcome_of(NpoRequestError("HTTP 400", status=400, body=body))
    assert outcome == Refused("HTTP 400", status=400, body=body)
