"""Raw records expired unread (issue 14): the consumer's reset on an out-of-range fetch is
reported with the gap, the gap names the NPO streams to re-pull in full, and a full refresh asked
while a pull is under way is the next run's."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka.structs import TopicPartition

from npo_integration import faust_patches
from npo_integration.faust_patches import OutOfRange, proc_fetch_request, reset_positions
from npo_integration.models.state import StreamPullState
from npo_integration.partitioning import partition_for
from npo_integration.pull import schedule
from npo_integration.pull.raw_expiry import expired, streams_on_partition
from npo_integration.registry.config_input import read_config

RAW = "raw-records"


class State:
    def __init__(self, position: int | None) -> None:
        self.position = position if position is not None else 0
        self.has_valid_position = position is not None
        self.awaiting_reset = False


class Assignment:
    def __init__(self, states: dict[TopicPartition, State]) -> None:
        self.states = states

    @property
    def tps(self) -> frozenset[TopicPartition]:
        return frozenset(self.states)

    def state_value(self, tp: TopicPartition) -> State | None:
        return self.states.get(tp)


class Fetcher:
    def __init__(self, log_starts: dict[TopicPartition, int]) -> None:
        self.log_starts = log_starts

    async def beginning_offsets(self, tps: list[TopicPartition], timeout_ms: int) -> Any:
        return {tp: self.log_starts[tp] for tp in tps}


@pytest.fixture
def watched() -> Iterator[list[list[OutOfRange]]]:
    heard: list[list[OutOfRange]] = []

    async def listener(found: list[OutOfRange]) -> None:
        heard.append(found)

    saved = dict(faust_patches._watched)
    faust_patches._watched.clear()
    faust_patches.watch_out_of_range(RAW, listener, asyncio.get_event_loop)
    try:
        yield heard
    finally:
        faust_patches._watched.clear()
        faust_patches._watched.update(saved)


def fetch_going_out_of_range(
    monkeypatch: pytest.MonkeyPatch, *tps: TopicPartition
) -> list[TopicPartition]:
    """aiokafka's handling of a response whose ``tps`` were out of range: they await a reset."""
    handled: list[TopicPartition] = []

    async def original(fetcher: Any, assignment: Any, node_id: Any, request: Any) -> bool:
        for tp in tps:
            assignment.state_value(tp).awaiting_reset = True
        handled.extend(tps)
        return True

    monkeypatch.setattr(faust_patches, "_proc_fetch_request", original)
    return handled


async def test_an_expired_gap_on_a_watched_partition_is_reported_before_the_fetch_returns(
    monkeypatch: pytest.MonkeyPatch, watched: list[list[OutOfRange]]
) -> None:
    gone, fine, other = TopicPartition(RAW, 3), TopicPartition(RAW, 1), TopicPartition("x", 3)
    assignment = Assignment({gone: State(120), fine: State(7), other: State(5)})
    fetch_going_out_of_range(monkeypatch, gone, other)
    fetcher = Fetcher({gone: 500, fine: 0, other: 900})

    assert await proc_fetch_request(fetcher, assignment, 0, object()) is True

    assert watched == [[OutOfRange(RAW, 3, 120, 500)]]
    assert expired(watched[0][0]) == 380


async def test_a_fetch_without_a_reset_reports_nothing(
    monkeypatch: pytest.MonkeyPatch, watched: list[list[OutOfRange]]
) -> None:
    tp = TopicPartition(RAW, 0)
    fetch_going_out_of_range(monkeypatch)
    await proc_fetch_request(Fetcher({tp: 0}), Assignment({tp: State(4)}), 0, object())
    assert watched == []


async def test_nothing_is_watched_nothing_is_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(faust_patches, "_watched", {})
    tp = TopicPartition(RAW, 0)
    handled = fetch_going_out_of_range(monkeypatch, tp)
    await proc_fetch_request(None, Assignment({tp: State(4)}), 0, object())  # no beginning_offsets
    assert handled == [tp]


def test_only_partitions_with_a_position_before_that_await_a_reset_after_count() -> None:
    a, b, c = (TopicPartition(RAW, p) for p in range(3))
    states = {a: State(10), b: State(20), c: State(None)}
    states[a].awaiting_reset = states[c].awaiting_reset = True
    assert reset_positions({a: 10, b: 20}, Assignment(states)) == {a: 10}


@pytest.mark.parametrize(
    ("position", "log_start", "gap"),
    [(120, 500, 380), (0, 1, 1), (500, 500, 0), (900, 500, 0)],  # past the end: no gap
)
def test_the_gap_is_what_lies_between_the_position_and_the_log_start(
    position: int, log_start: int, gap: int
) -> None:
    assert expired(OutOfRange(RAW, 0, position, log_start)) == gap


def _config(npo_id: str, *, active: bool = True, incremental: bool = False) -> Any:
    stream: dict[str, Any] = {
        "path": "/api/offerings",
        "records_path": "data",
        "pagination": {"style": "page_number", "page_size": 20},
    }
    if incremental:
        stream["incremental"] = {"cursor_field": "updated_at", "param": "updated_since"}
    return read_config(
        {
            "npo_id": npo_id,
            "display_name": npo_id,
            "base_url": "https://npo.example.org",
            "auth": {"kind": "bearer", "token": "t"},
            "streams": {"offerings": stream},
            "transform": {"kind": "plugin", "name": "simple"},
            "active": active,
        }
    )


def test_the_gap_names_every_enabled_stream_of_the_active_npos_on_its_partition() -> None:
    partitions = 4
    ids = [f"npo-{i}" for i in range(40)]
    here = partition_for(ids[0], partitions)
    configs = [_config(n, incremental=i % 2 == 0) for i, n in enumerate(ids)]
    configs.append(_config("paused", active=False))
    wanted = sorted((n, "offerings") for n in ids if partition_for(n, partitions) == here)
    assert streams_on_partition(configs, here, partitions) == wanted
    assert len(wanted) < len(ids)
    assert ("paused", "offerings") not in streams_on_partition(
        configs, partition_for("paused", partitions), partitions
    )


NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_a_full_refresh_asked_during_a_run_is_the_next_runs_and_due_at_once() -> None:
    running = StreamPullState(cursor="2026-11-30T10:00:00Z", running_since=NOW)
    deferred = schedule.full_refresh_deferred(running)
    # the run under way commits its cursor and finishes: the refresh still pending, due now
    moved = schedule.cursor_committed(deferred, "2026-12-01T08:00:00Z")
    done = schedule.succeeded(moved, NOW + timedelta(seconds=5), 600, 3)
    assert done.full_refresh_pending
    assert done.next_run_at == NOW + timedelta(seconds=605)
    due = schedule.due_again_if_pending(done, NOW + timedelta(seconds=5))
    assert due.next_run_at == NOW + timedelta(seconds=5)
    # the next run forgets the cursor and the pending refresh
    reset = schedule.cursor_reset(due)
    assert reset.cursor is None and not reset.full_refresh_pending


def test_without_a_pending_refresh_a_finished_run_keeps_its_interval() -> None:
    done = schedule.succeeded(StreamPullState(), NOW, 600, 0)
    assert schedule.due_again_if_pending(done, NOW) == done
