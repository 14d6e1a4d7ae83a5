"""When an unprocessed record is re-driven: exponential backoff and a bound on attempts."""

from __future__ import annotations

from datetime import datetime, timedelta

from npo_integration.models.events import new_event_id, utc_now
from npo_integration.models.internal import RawRecord
from npo_integration.models.state import UnprocessedRecord
from npo_integration.retry_policy import RetryPolicy

MAX_BACKOFF = timedelta(minutes=10)


def redrive_policy(backoff_seconds: float, max_attempts: int) -> RetryPolicy:
    """Wait base, 2 x base, 4 x base, ... at most 10 minutes after each failure; no jitter, as
    the re-drive timer only looks for due records every few seconds."""
    return RetryPolicy(
        max_attempts=max_attempts,
        base_seconds=backoff_seconds,
        max_seconds=MAX_BACKOFF.total_seconds(),
        jitter="none",
    )


def is_due(policy: RetryPolicy, entry: UnprocessedRecord, now: datetime) -> bool:
    """Due for the re-drive timer: attempts left and the backoff over."""
    return not policy.exhausted(entry.attempts) and entry.next_attempt_at <= now


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
        next_attempt_at=now + timedelta(seconds=policy.delay(attempts)),
    )


def redriven(raw: RawRecord) -> RawRecord:
    """The same record (key, content, fetch time, trace) as a new message."""
    return raw.model_copy(update={"event_id": new_event_id(), "occurred_at": utc_now()})
