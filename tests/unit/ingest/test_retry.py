"""Re-drive timing: exponential backoff with a cap, a bound on attempts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from npo_integration.ingest.retry import (
    MAX_BACKOFF,
    after_failure,
    is_due,
    redrive_policy,
    redriven,
)
from npo_integration.pull.raw import raw_record

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
RAW = raw_record("acme", "offerings", "1", {"id": 1}, "trace-1")


def test_backoff_doubles_and_is_capped() -> None:
    policy = redrive_policy(backoff_seconds=5, max_attempts=8)
    assert [policy.delay(n) for n in (1, 2, 3, 4)] == [5, 10, 20, 40]
    assert policy.delay(60) == MAX_BACKOFF.total_seconds()


def test_an_entry_is_due_after_its_backoff_and_below_the_bound() -> None:
    policy = redrive_policy(backoff_seconds=5, max_attempts=3)
    first = after_failure(None, RAW, "r", 1, T0, policy)
    assert first.next_attempt_at == T0 + timedelta(seconds=5)
    assert not is_due(policy, first, T0 + timedelta(seconds=4))
    assert is_due(policy, first, T0 + timedelta(seconds=5))
    later = after_failure(first, RAW, "r2", 3, T0 + timedelta(minutes=1), policy)
    assert later.first_failed_at == T0 and later.reason == "r2"
    assert not is_due(policy, later, T0 + timedelta(days=1))  # attempts used up: operators only


def test_a_redriven_record_is_the_same_record_as_a_new_message() -> None:
    again = redriven(RAW)
    assert again.event_id != RAW.event_id
    same = ("record_key", "content_hash", "fetched_at", "trace_id", "payload", "npo_id", "stream")
    assert all(getattr(again, f) == getattr(RAW, f) for f in same)
