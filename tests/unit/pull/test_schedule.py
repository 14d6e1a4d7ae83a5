"""When an NPO stream is due, and how a run's end plans the next one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from npo_integration.models.state import StreamPullState
from npo_integration.pull import schedule

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def test_a_stream_never_pulled_is_due() -> None:
    assert schedule.is_due(StreamPullState(), NOW)


def test_a_running_pull_is_not_due_until_its_lease_expires() -> None:
    running = schedule.started(StreamPullState(next_run_at=NOW - timedelta(hours=1)), NOW, "t1")
    assert not schedule.is_due(running, NOW + timedelta(minutes=1))
    assert schedule.is_due(running, NOW + schedule.LEASE + timedelta(seconds=1))


def test_missed_runs_after_downtime_are_caught_up_once() -> None:
    last = StreamPullState(next_run_at=NOW - timedelta(hours=5))  # five hourly runs missed
    assert schedule.is_due(last, NOW)
    after = schedule.succeeded(schedule.started(last, NOW, "t"), NOW, 3600, records=3)
    assert after.next_run_at == NOW + timedelta(hours=1)
    assert not schedule.is_due(after, NOW + timedelta(minutes=59))


def test_a_failure_keeps_the_cursor_and_counts() -> None:
    state = schedule.cursor_committed(schedule.started(StreamPullState(), NOW, "t"), "2026-11-20T10:00:00Z")
    failed = schedule.failed(state, NOW, 60, "NpoUnavailableError: HTTP 503", records=10)
    assert failed.cursor == "2026-11-20T10:00:00Z"
    assert (failed.consecutive_failures, failed.running_since) == (1, None)
    assert failed.next_run_at == NOW + timedelta(seconds=60)
    assert schedule.succeeded(failed, NOW, 60, 0).consecutive_failures == 0
