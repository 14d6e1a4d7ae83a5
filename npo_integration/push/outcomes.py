"""What an NPO call ended with, in the three shapes the push path reacts to, and when to try again.

``Answered``: a 2xx. ``Refused``: the NPO (or our own checks) said no for good;
fail at once with the reason, unless the NPO said the candidate is enrolled
already (:func:`already_enrolled`). ``Unavailable``: transient; retry later, and
if ``outcome_unknown`` the NPO may have acted, so resolve before sending again.

A 5xx answer to a POST is an unknown outcome too: a gateway's 504 (or an
application's 500 after its commit) says nothing about whether the NPO acted.
A ``PATCH`` is not: an enrolment endpoint's PATCH is an upsert keyed in its path
(:class:`~npo_integration.models.npo_config.EnrolmentEndpoint` checks the key is
there), so sending it again updates what the first one may have made.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from npo_integration.errors import FatalError, RetriableError
from npo_integration.http.errors import IDEMPOTENT_METHODS, CircuitOpenError, NpoUnavailableError
from npo_integration.http.response import NpoResponse
from npo_integration.models.npo_config import AlreadyEnrolledConfig, SourceOrConfig, one_source
from npo_integration.retry_policy import RetryPolicy

log = logging.getLogger(__name__)

UPSERT_METHOD = "PATCH"
"""An enrolment endpoint's upsert: sent again after any failure, whatever the NPO did."""


@dataclass(frozen=True, slots=True)
class Answered:
    status: int
    body: Any = None  # the JSON body, None when the NPO sent no JSON


@dataclass(frozen=True, slots=True)
class Refused:
    reason: str
    status: int | None = None
    body: str = (
        ""  # the NPO's answer (scrubbed, cut), where error codes such as DUPLICATE_VALUE are
    )
    code: str | None = None  # an error code read from an error inside a 200 (Moodle)


@dataclass(frozen=True, slots=True)
class Unavailable:
    reason: str
    retry_after: float | None = None
    outcome_unknown: bool = False
    counted: bool = True  # False when the call never left (circuit open): not an attempt


Outcome = Answered | Refused | Unavailable


async def perform(send: Callable[[], Awaitable[NpoResponse]], *, method: str = "GET") -> Outcome:
    """Await one ``method`` call and classify how it ended; nothing it raises escapes (the
    agent must live)."""
    try:
        response = await send()
    except CircuitOpenError as exc:
        return Unavailable(str(exc), retry_after=exc.retry_after, counted=False)
    except NpoUnavailableError as exc:
        server_error = exc.status is not None and exc.status >= 500
        acted = server_error and method.upper() not in IDEMPOTENT_METHODS
        unknown = (exc.outcome_unknown or acted) and method.upper() != UPSERT_METHOD
        return Unavailable(str(exc), retry_after=exc.retry_after, outcome_unknown=unknown)
    except RetriableError as exc:
        return Unavailable(str(exc), retry_after=exc.retry_after)
    except FatalError as exc:
        return Refused(
            str(exc),
            status=getattr(exc, "status", None),
            body=getattr(exc, "body", "") or "",
            code=getattr(exc, "code", None),
        )
    except Exception as exc:
        log.exception("unexpected error calling the NPO; treating the outcome as unknown")
        return Unavailable(f"{type(exc).__name__}: {exc}", outcome_unknown=True)
    return Answered(response.status, response.json if response.is_json else None)


def already_enrolled(outcome: Refused, config: AlreadyEnrolledConfig) -> bool:
    """The NPO refused because the candidate is enrolled already: the goal holds."""
    if outcome.status is not None and outcome.status in config.statuses:
        return True
    said = " ".join(text for text in (outcome.code, outcome.body or outcome.reason) if text)
    return any(marker in said for marker in config.body_contains)


def retry_policy(given: SourceOrConfig) -> RetryPolicy:
    """The enrolment's bound on attempts and the NPO's backoff, with equal jitter.

    Half of each wait is fixed and half random: unlike the client's full jitter,
    a scheduled retry never fires at once, so a struggling NPO really gets a pause.
    """
    config = one_source(given)
    return RetryPolicy(
        max_attempts=config.enrolment.max_attempts,
        base_seconds=config.retry.backoff_base_seconds,
        max_seconds=config.retry.backoff_max_seconds,
        jitter="equal",
    )
