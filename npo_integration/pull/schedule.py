"""When an NPO stream is due, and what its state becomes after a run.

A run missed during downtime is caught up once: the next run is planned from
the end of the catch-up run, not from the missed slots.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from npo_integration.models.codec import Versioned
from npo_integration.models.npo_config import (
    NpoIntegrationConfig,
    StreamConfig,
    StreamName,
    stream_key,
)
from npo_integration.models.state import StreamPullState

# A run of this worker that has not reported back after this long is
# presumed hung and may run again.
LEASE = timedelta(minutes=10)


def is_running(state: StreamPullState, now: datetime, worker: str) -> bool:
    """Only this worker's own runs count: a run marked by another process (one that was
    SIGKILLed, or that owned the partition before a rebalance) is stale for the new owner."""
    return (
        state.running_since is not None
        and state.running_worker == worker
        and now - state.running_since < LEASE
    )


def is_due(state: StreamPullState, now: datetime, worker: str) -> bool:
    if is_running(state, now, worker):
        return False
    return state.next_run_at is None or state.next_run_at <= now


def due_at(state: StreamPullState, worker: str) -> datetime | None:
    """When the stream is next due (``None``: now): after this worker's own run's
    lease, else at ``next_run_at``."""
    if state.running_since is not None and state.running_worker == worker:
        lease_end = state.running_since + LEASE
        return lease_end if state.next_run_at is None else max(lease_end, state.next_run_at)
    return state.next_run_at


class _StreamSchedule(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str = ""
    enabled: bool = True
    schedule_seconds: int = 300


class _SourceSchedule(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    streams: list[_StreamSchedule] = []


class _ConfigSchedule(BaseModel):
    """A stored config's schedule: of its sources, or (stored before sources) of its top-level
    ``streams``, the one source ``main``'s."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    active: bool = True
    sources: list[_SourceSchedule] = []
    streams: dict[str, _StreamSchedule | None] = {}

    def scheduled(self) -> list[tuple[StreamName, _StreamSchedule]]:
        found = [(key, s) for key, s in self.streams.items() if s is not None]
        found += [
            (stream_key(source.name, stream.name), stream)
            for source in self.sources
            for stream in source.streams
        ]
        return found


class ScheduleView(Versioned):
    """The part of a stored config version the scheduler needs, read from its bytes several times
    faster than the whole config (every NPO of a partition is read when a worker takes it over)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    npo_id: str
    version: int
    config: _ConfigSchedule

    def intervals(self) -> dict[StreamName, int]:
        """The pulled streams and their intervals in seconds (none when the NPO is inactive)."""
        return pulled_streams(self.config.active, self.config.scheduled())


class Scheduled(Protocol):
    """A stream's schedule, as a full config or a :class:`ScheduleView` holds it."""

    @property
    def enabled(self) -> bool: ...

    @property
    def schedule_seconds(self) -> int: ...


def pulled_streams(
    active: bool, streams: Sequence[tuple[StreamName, Scheduled]]
) -> dict[StreamName, int]:
    """The pulled streams by key and their intervals in seconds (none when the NPO is
    inactive)."""
    if not active:
        return {}
    return {key: s.schedule_seconds for key, s in streams if s.enabled}


def config_intervals(config: NpoIntegrationConfig) -> dict[StreamName, int]:
    """``pulled_streams`` of a decoded config: every stream of every source."""
    return pulled_streams(config.active, [(key, s) for key, _, s in config.all_streams()])


def started(state: StreamPullState, now: datetime, trace_id: str, worker: str) -> StreamPullState:
    return state.model_copy(
        update={"running_since": now, "running_trace_id": trace_id, "running_worker": worker}
    )


def cursor_committed(state: StreamPullState, cursor: str) -> StreamPullState:
    return state.model_copy(update={"cursor": cursor})


def cursor_reset(state: StreamPullState) -> StreamPullState:
    """A full refresh: no cursor, so the run walks from the start and commits what it finds
    (which may be behind the old cursor: the NPO's data was restored, say)."""
    return state.model_copy(update={"cursor": None, "full_refresh_pending": None})


def full_refresh_deferred(state: StreamPullState) -> StreamPullState:
    """A full refresh asked while a run is under way: that run goes on from its cursor (and may
    move it), the next one forgets it (see ``due_again_if_pending``)."""
    return state.model_copy(update={"full_refresh_pending": True})


def due_again_if_pending(state: StreamPullState, now: datetime) -> StreamPullState:
    """A finished run with a full refresh pending: due now, not at the next interval."""
    return state.model_copy(update={"next_run_at": now}) if state.full_refresh_pending else state


_NOT_RUNNING: dict[str, None] = {
    "running_since": None,
    "running_trace_id": None,
    "running_worker": None,
}
"""What a finished run (succeeded or failed) clears: no worker holds the stream any more."""


def succeeded(
    state: StreamPullState,
    now: datetime,
    interval_s: int,
    records: int,
    *,
    problem: str | None = None,
) -> StreamPullState:
    """``problem``: what went wrong with some records of a run that went on (records refused
    and dead-lettered); it is the stream's ``last_error`` then, the run still a success."""
    noted = {"last_error": problem, "last_error_at": now} if problem else {}
    return state.model_copy(
        update={
            **_NOT_RUNNING,
            **noted,
            "last_success_at": now,
            "next_run_at": now + timedelta(seconds=interval_s),
            "consecutive_failures": 0,
            "records_last_run": records,
        }
    )


def failed(
    state: StreamPullState, now: datetime, interval_s: int, reason: str, records: int
) -> StreamPullState:
    """A failed run is retried at the next interval; the cursor stays where
    the last good page left it."""
    return state.model_copy(
        update={
            **_NOT_RUNNING,
            "last_error": reason,
            "last_error_at": now,
            "next_run_at": now + timedelta(seconds=interval_s),
            "consecutive_failures": state.consecutive_failures + 1,
            "records_last_run": records,
        }
    )


def is_full_sweep_due(state: StreamPullState, stream: StreamConfig) -> bool:
    """Is this run a full sweep, whose end decides removals? Always without ``incremental``;
    with ``full_sweep_every``, the first run (no cursor yet) and every ``full_sweep_every``-th;
    never for other incremental streams (their answers hold only what changed)."""
    if stream.incremental is None:
        return True
    every = stream.full_sweep_every
    if every is None:
        return False
    return state.cursor is None or state.runs_since_full_sweep + 1 >= every


def counted(state: StreamPullState, *, full: bool, complete: bool) -> StreamPullState:
    """A run counted towards the next full sweep (a complete full sweep starts the count again)."""
    runs = 0 if full and complete else state.runs_since_full_sweep + 1
    return state.model_copy(update={"runs_since_full_sweep": runs})
