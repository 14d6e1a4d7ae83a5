"""The extraction scheduler: each worker requests the due pulls of the NPOs whose partition it owns.

Every worker runs this timer, but an NPO's fetch partition is actively owned by
exactly one worker, so each NPO is requested once across the cluster and the
duty moves with a rebalance. The request is a message, so a manual trigger and
a scheduled run take the same path.

The work of a tick follows what is due, not how many NPOs exist: an in-memory
``DueIndex`` holds the next run of every stream on the owned partitions. It is
rebuilt from the tables when the owned partitions change (reading only the
schedule part of each config), and kept current by the changes this worker sees:
config changes (its own and other workers', from the changelog) and the pull
state the fetch agent writes when a pull starts and ends.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime

from npo_integration import tracing
from npo_integration.app import settings
from npo_integration.models.codec import DecodeError, decode, encode
from npo_integration.models.events import utc_now
from npo_integration.models.internal import FetchRequest
from npo_integration.models.npo_config import NpoConfigVersion, StreamName
from npo_integration.models.state import PullState
from npo_integration.partitioning import partition_for
from npo_integration.pull import schedule
from npo_integration.pull.due_index import DueIndex
from npo_integration.tables import npo_configs, pull_state
from npo_integration.timers.periodic import failed, owned_partitions, periodic
from npo_integration.topics import fetch_requests
from npo_integration.worker_resources import worker_id

log = logging.getLogger(__name__)

RESEND_AFTER = schedule.LEASE
"""A requested pull whose start this worker has not seen is requested again after this
long: its request may wait in a long queue (100,000 NPOs due at once), and re-sending it
sooner only lengthens the queue."""
REQUESTS_PER_TICK = 2000
"""Pulls requested in one tick at most; the rest stay due for the next (a tick
never holds the loop long)."""
REBUILD_YIELD_EVERY = 2000
"""Configs read between two yields to the event loop while the index is rebuilt."""


class Scheduler:
    """The due index of this worker's partitions, and the intervals of the streams in it."""

    def __init__(self) -> None:
        self.index = DueIndex()
        self.partitions: frozenset[int] | None = None  # None: not built yet
        self.intervals: dict[str, dict[StreamName, int]] = {}  # npo_id -> stream -> seconds

    def owns(self, npo_id: str) -> bool:
        return (
            self.partitions is not None
            and partition_for(npo_id, settings.topic_partitions) in self.partitions
        )

    def on_config(
        self, npo_id: str, raw: bytes | None, decoded: NpoConfigVersion | None = None
    ) -> None:
        """A config changed (here or on another worker): its streams join,
        leave or keep their due times."""
        if not self.owns(npo_id):
            return
        if decoded is not None:  # this worker's write: no need to read its bytes again
            intervals = schedule.config_intervals(decoded.config)
        else:
            intervals = _intervals(npo_id, raw)
        self._schedule(npo_id, intervals, pull_state.get(npo_id) if intervals else None)

    def on_pull_state(self, state: PullState) -> None:
        """The fetch agent wrote a pull state (a run started or ended):
        its streams' next due times."""
        if not self.owns(state.npo_id):
            return
        self._schedule(state.npo_id, self.intervals.get(state.npo_id, {}), state)

    def _schedule(
        self, npo_id: str, intervals: dict[StreamName, int], state: PullState | None
    ) -> None:
        if intervals:
            self.intervals[npo_id] = intervals
        else:
            self.intervals.pop(npo_id, None)
        self.index.keep_only(npo_id, intervals)
        now = time.time()
        for stream in intervals:
            due = schedule.due_at(state.stream(stream), worker_id) if state is not None else None
            self.index.set(npo_id, stream, now if due is None else due.timestamp())

    async def rebuild(self, partitions: frozenset[int]) -> None:
        """Every NPO stream of ``partitions``, from the config and pull-state tables."""
        started = time.monotonic()
        self.index.clear()
        self.intervals.clear()
        self.partitions = partitions
        seen = 0
        for npo_id, raw in npo_configs.stored():
            seen += 1
            if seen % REBUILD_YIELD_EVERY == 0:
                await asyncio.sleep(0)
                if self.partitions is not partitions:
                    return  # a newer assignment started its own rebuild
            if partition_for(npo_id, settings.topic_partitions) not in partitions:
                continue
            intervals = _intervals(npo_id, raw)
            if intervals:
                self._schedule(npo_id, intervals, pull_state.get(npo_id))
        log.info(
            "pull schedule rebuilt for partitions %s: "
            "%d stream(s) of %d NPO(s) in %.2fs (%d configs read)",
            sorted(partitions),
            len(self.index),
            len(self.intervals),
            time.monotonic() - started,
            seen,
        )

    def take_due(self, now: datetime, limit: int = REQUESTS_PER_TICK) -> list[tuple[str, str]]:
        """The streams due now (at most ``limit``); each comes back after ``RESEND_AFTER`` unless
        its pull state changes first (the fetch agent writes it when the pull starts)."""
        due = self.index.pop_due(now.timestamp(), limit)
        again = (now + RESEND_AFTER).timestamp()
        for npo_id, stream in due:
            self.index.set(npo_id, stream, again)
        return due


def _intervals(npo_id: str, raw: bytes | None) -> dict[StreamName, int]:
    if raw is None:
        return {}
    try:
        return decode(schedule.ScheduleView, raw).intervals()
    except DecodeError as exc:
        log.error("config of %s unreadable, not scheduled: %s", npo_id, exc)
        return {}


scheduler = Scheduler()
npo_configs.subscribe(scheduler.on_config)
pull_state.subscribe(scheduler.on_pull_state)


async def request_pull(
    npo_id: str,
    stream: str,
    reason: str = "schedule",
    *,
    full_refresh: bool = False,
    re_emit: bool = False,
) -> FetchRequest:
    request = FetchRequest(
        npo_id=npo_id,
        stream=stream,
        reason=reason,
        trace_id=tracing.new_trace_id(),
        full_refresh=full_refresh or re_emit,
        re_emit=re_emit,
    )
    await fetch_requests.send(
        key=npo_id.encode(),
        value=encode(request),
        headers=list(tracing.start(request.trace_id).headers()),
    )
    return request


@periodic(settings.scheduler_tick_seconds)
async def request_due_pulls() -> None:
    owned = owned_partitions(fetch_requests)
    if owned != scheduler.partitions:
        await scheduler.rebuild(owned)
    for npo_id, stream in scheduler.take_due(utc_now()):
        try:
            await request_pull(npo_id, stream)
        except Exception:
            failed("request_due_pulls", "pull request for %s/%s not sent", npo_id, stream)
