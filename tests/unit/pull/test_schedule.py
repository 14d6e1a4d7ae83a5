"""When an NPO stream is due, and how a run's end plans the next one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from npo_integration.models.npo_config import StreamConfig
from npo_integration.models.state import StreamPullState
from npo_integration.pull import schedule

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
ME, DEAD = "worker-now", "worker-killed"


def test_a_stream_never_pulled_is_due() -> None:
    assert schedule.is_due(StreamPullState(), NOW, ME)


def test_a_running_pull_is_not_due_until_its_lease_expires() -> None:
    running = schedule.started(StreamPullState(next_run_at=NOW - timedelta(hours=1)), NOW, "t1", ME)
    assert not schedule.is_due(running, NOW + timedelta(minutes=1), ME)
    assert schedule.is_due(running, NOW + schedule.LEASE + timedelta(seconds=1), ME)


def test_a_run_left_by_a_killed_worker_does_not_block_its_successor() -> None:
    left = schedule.started(
        StreamPullState(next_run_at=NOW - timedelta(minutes=1)), NOW, "t1", DEAD
    )
    assert schedule.is_running(left, NOW, DEAD)
    assert not schedule.is_running(left, NOW, ME)
    assert schedule.is_due(left, NOW + timedelta(seconds=5), ME)


def test_missed_runs_after_downtime_are_caught_up_once() -> None:
    last = StreamPullState(next_run_at=NOW - timedelta(hours=5))  # five hourly runs missed
    assert schedule.is_due(last, NOW, ME)
    after = schedule.succeeded(schedule.started(last, NOW, "t", ME), NOW, 3600, records=3)
    assert after.next_run_at == NOW + timedelta(hours=1)
    assert after.running_worker is None
    assert not schedule.is_due(after, NOW + timedelta(minutes=59), ME)


def test_a_failure_keeps_the_cursor_and_counts() -> None:
    state = schedule.cursor_committed(
        schedule.started(StreamPullState(), NOW, "t", ME), "2026-11-20T10:00:00Z"
    )
    failed = schedule.failed(state, NOW, 60, "NpoUnavailableError: HTTP 503", records=10)
    assert failed.cursor == "2026-11-20T10:00:00Z"
    assert (failed.consecutive_failures, failed.running_since) == (1, None)
    assert failed.next_run_at == NOW + timedelta(seconds=60)
    assert schedule.succeeded(failed, NOW, 60, 0).consecutive_failures == 0


def _stream(**extra: Any) -> StreamConfig:
    return StreamConfig.model_validate({"name": "o", "kind": "offerings", "path": "/o", **extra})


def test_full_sweeps_every_run_in_full_or_every_nth_incremental_run() -> None:
    incremental = {"cursor_field": "updated"}
    assert schedule.is_full_sweep_due(StreamPullState(cursor="c"), _stream())
    assert not schedule.is_full_sweep_due(StreamPullState(), _stream(incremental=incremental))
    every = _stream(incremental=incremental, full_sweep_every=3)
    state = StreamPullState()
    seen = []
    for _ in range(5):
        full = schedule.is_full_sweep_due(state, every)
        seen.append(full)
        state = schedule.counted(state, full=full, complete=True).model_copy(update={"cursor": "c"})
    assert seen == [True, False, False, True, False]
    failed = schedule.counted(
        StreamPullState(cursor="c", runs_since_full_sweep=2), full=True, complete=False
    )
    assert schedule.is_full_sweep_due(failed, every)  # a failed full sweep is tried again


def test_full_sweep_every_needs_an_incremental_stream() -> None:
    with pytest.raises(ValidationError, match="full_sweep_every needs incremental"):
        _stream(full_sweep_every=2)
