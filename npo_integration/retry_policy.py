"""When to try again: the one bound on attempts and exponential backoff every retry path uses.

The paths differ only in the jitter they ask for. An NPO call retried inside the
request uses full jitter, to spread the retries of many streams hitting one NPO;
a scheduled enrolment retry uses equal jitter, so it never fires at once and a
struggling NPO really gets a pause; an ingestion re-drive uses none, as the
re-drive timer looks for due records every few seconds anyway.

Imports nothing of the project, so that any layer may use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Jitter = Literal["full", "equal", "none"]

UNTIL_DONE = 2**62
"""``max_attempts`` of a policy that never gives up: sends that must become durable before their
source is acknowledged (config commands, a table's changelog) wait and try again, forever."""

_MAX_DOUBLINGS = 64
"""Keeps ``2 ** n`` a number a float can hold; every configured cap is reached long before."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``max_attempts`` tries; after failed try ``n`` wait ``min(max, base * 2**(n-1))``, jittered.

    Frozen and without a random source, so that it can be built from any config and tested alone.
    """

    max_attempts: int
    base_seconds: float
    max_seconds: float
    jitter: Jitter = "full"

    def exhausted(self, attempts: int) -> bool:
        """``attempts`` made use up the bound: no further try."""
        return attempts >= self.max_attempts

    def delay(
        self, attempt: int, *, fraction: float = 1.0, retry_after: float | None = None
    ) -> float:
        """Seconds to wait after failed ``attempt`` (1-based), never less than ``retry_after``.

        ``fraction`` is a random draw in [0, 1) that places the jittered part
        (full: all of the wait, equal: its upper half; unused without jitter).
        """
        doublings = min(max(attempt - 1, 0), _MAX_DOUBLINGS)
        ceiling = min(self.max_seconds, self.base_seconds * 2.0**doublings)
        if self.jitter == "full":
            wait = fraction * ceiling
        elif self.jitter == "equal":
            wait = ceiling / 2 + fraction * ceiling / 2
        else:
            wait = ceiling
        return max(wait, retry_after) if retry_after is not None else wait
