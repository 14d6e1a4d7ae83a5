"""When an unprocessed record is re-driven: exponential backoff and a bound on attempts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from npo_integration.models.events import new_event_id, utc_now
from npo_integration.models.internal import RawRecord
from npo_integration.models.state import UnprocessedRecord

MAX_BACKOFF = timedelta(minutes=10)


@dataclass(frozen=True)
class RetryPolicy:
    backoff_seconds: float
    max_attempts: int

    def backoff(self, attempts: int) -> timedelta:
        """Wait after the ``attempts``-th failure: base, 2 x base, 4 x base, ... at most 10 minutes."""
        seconds = self.backoff_seconds * 2 ** min(max(attempts - 1, 0), 20)
        return min(timedelta(seconds=seconds), MAX_BACKOFF)

    def is_due(self, entry: UnprocessedRecord, now: datetime) -> bool:
        """Due for the re-drive timer: attempts left and the backoff over."""
        return entry.attempts < self.max_attempts and entry.next_attempt_at <= now


def after_failure(
    previous: UnprocessedRecord | None,
    raw: RawRecord,
    reason: str,
    attempts: int,
    now: datetime,
    policy: RetryPolicy,
) -> UnprocessedRecord:
    return UnprocessedRecord(
        raw=raw,
        reason=reason,
        attempts=attempts,
        first_failed_at=previous.first_failed_at if previous is not None else now,
        last_failed_at=now,
        next_attempt_at=now + policy.backoff(attempts),
    )


def redriven(raw: RawRecord) -> RawRecord:
    """The same record (key, content, fetch time, trace) as a new message."""
    return raw.model_copy(update={"event_id": new_event_id(), "occurred_at": utc_now()})
