"""Removals: records that were published but are gone from a complete full sweep.

A full (not incremental) pull that ends without error is followed on raw-records by a
``SweepCompleted`` marker (same key, so the same partition, after the sweep's pages). The
ingesting worker remembers which records of each open sweep it saw (``SweepTracker``: a set add
per record, in memory, no broker traffic) and, at the marker, compares them with the stream's
records live on the platform (one prefix scan of the record states per sweep):

- it saw another number of distinct records than the marker counts (it restarted mid-sweep,
  a page was unreadable): it knows too little and removes nothing; the next sweep decides;
- the absent records would be more than ``hold_share`` of the live ones, or the answer is empty:
  the sweep is *held* (``RemovalHold``): nothing removed until an operator confirms;
- else each absent record becomes a *removal record* (``REMOVED_HASH`` content, no payload),
  ingested like any record: its event goes out once, with a deterministic id, and a failed send
  is re-driven like any failure.

Faust-free: the agent (``agents/ingest.py``) hands in the states and the hold.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from npo_integration.models.internal import RawRecord, SweepCompleted
from npo_integration.models.state import RecordState, RemovalHold

log = logging.getLogger(__name__)

REMOVED_HASH = "removed"
"""The content hash of a removal record (never a sha256): its state says the removal was sent."""

StreamId = tuple[str, str]
"""(npo_id, stream)"""


@dataclass
class _OpenSweep:
    trace_id: str
    started: datetime
    keys: set[str]


class SweepTracker:
    """Which records of each NPO stream's current full sweep this worker has seen, until its
    marker: one open sweep per stream (pulls of a stream never overlap), so memory is bounded by
    the records of the streams this worker ingests.

    A page of another sweep fetched later starts a new one (the previous one failed: it has no
    marker coming); a page fetched earlier (a re-driven record keeps its fetch time and trace)
    is not the current sweep's and is not counted."""

    def __init__(self) -> None:
        self._open: dict[StreamId, _OpenSweep] = {}

    def saw(
        self, stream: StreamId, trace_id: str, fetched_at: datetime, record_keys: Iterable[str]
    ) -> None:
        current = self._open.get(stream)
        if current is None or (current.trace_id != trace_id and fetched_at > current.started):
            current = self._open[stream] = _OpenSweep(trace_id, fetched_at, set())
        if current.trace_id == trace_id:
            current.keys.update(record_keys)

    def close(self, stream: StreamId, trace_id: str) -> set[str]:
        """What was seen of the sweep ``trace_id`` (then forgotten); empty if none of it was."""
        current = self._open.get(stream)
        if current is None or current.trace_id != trace_id:
            return set()
        del self._open[stream]
        return current.keys


@dataclass(frozen=True)
class SweepPlan:
    """What a complete sweep's end does: records to remove, a hold to keep (``hold``), or the
    stream's hold to drop (``clear_hold``)."""

    remove: Sequence[RecordState] = ()
    hold: RemovalHold | None = None
    clear_hold: bool = False


@dataclass(frozen=True, slots=True)
class LiveRecords:
    """A stream's records published and not removed, at a sweep's end: how many, and (decoded)
    those the sweep did not see. Only those are decoded: in a steady sweep, none."""

    count: int
    absent: Sequence[RecordState]

    @classmethod
    def of(cls, states: Iterable[RecordState], seen: set[str]) -> LiveRecords:
        live = [state for state in states if state.live]
        return cls(len(live), [state for state in live if state.record_key not in seen])


def plan_sweep(
    marker: SweepCompleted,
    seen: set[str],
    live: LiveRecords,
    hold: RemovalHold | None,
    *,
    hold_share: float,
    now: datetime,
) -> SweepPlan | None:
    """The sweep's removals, its hold, or ``None`` when this worker did not see all of it."""
    if len(seen) != marker.records:
        log.info(
            "sweep %s/%s trace=%s: saw %d of its %d records here; no removal decided",
            marker.npo_id,
            marker.stream,
            marker.trace_id,
            len(seen),
            marker.records,
        )
        return None
    absent = live.absent
    if hold is not None and hold.confirmed_at is not None:
        return SweepPlan(remove=absent, clear_hold=True)
    if absent and (marker.records == 0 or len(absent) > hold_share * live.count):
        return SweepPlan(
            hold=RemovalHold(
                npo_id=marker.npo_id,
                stream=marker.stream,
                trace_id=marker.trace_id,
                held_at=now,
                published=live.count,
                seen=marker.records,
                would_remove=len(absent),
            )
        )
    return SweepPlan(remove=absent, clear_hold=hold is not None)


def removal_record(state: RecordState, marker: SweepCompleted) -> RawRecord:
    """The removal of a live record absent from ``marker``'s sweep, as a record to ingest: fetched
    at the sweep's end (so newer than any copy of the sweep, older than the next one's)."""
    return RawRecord(
        event_id=f"{marker.event_id}/{state.record_key}",
        npo_id=state.npo_id,
        stream=state.stream,
        record_key=state.record_key,
        content_hash=REMOVED_HASH,
        fetched_at=marker.completed_at,
        trace_id=marker.trace_id,
        payload=None,
    )


def is_removal(raw: RawRecord) -> bool:
    return raw.content_hash == REMOVED_HASH
