"""Enrolment state per assignment, and the short list of enrolments waiting for a later look.

Both are keyed by assignment_id and written only by the enrolment agent while
it processes that assignment's event or command (same partition), so a state
and its changelog entry always sit on the assignment's partition.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from itertools import islice

from npo_integration.app import app
from npo_integration.delivery.acked_table import acked_bytes_table
from npo_integration.models.codec import DecodeError, decode, encode, json_string
from npo_integration.models.enrolment import EnrolmentDue, EnrolmentState
from npo_integration.tables.declare import PERSONAL_CHANGELOG, ROCKSDB_OPTIONS
from npo_integration.tables.scan import matching
from npo_integration.worker_resources import batch_producer

log = logging.getLogger(__name__)

_states = acked_bytes_table(
    app,
    "npo-enrolments",
    help="assignment_id -> EnrolmentState",
    producer=batch_producer,
    options=ROCKSDB_OPTIONS,
    extra_topic_configs=PERSONAL_CHANGELOG,
)
_due = acked_bytes_table(
    app,
    "npo-enrolment-due",
    help="assignment_id -> EnrolmentDue (retries and calls in flight only)",
    producer=batch_producer,
    options=ROCKSDB_OPTIONS,
)


def get(assignment_id: str) -> EnrolmentState | None:
    raw = _states.get_raw(assignment_id.encode())
    return None if raw is None else decode(EnrolmentState, raw)


async def wait_acked() -> None:
    """Return once every state written so far is acknowledged by the broker (before an NPO call)."""
    await _states.wait_acked()
    await _due.wait_acked()


def put(state: EnrolmentState) -> None:
    """Call only while processing an event of this assignment's partition."""
    key = state.assignment_id.encode()
    _states.put_raw(key, encode(state))
    if state.due_at is not None:
        _due.put_raw(
            key,
            encode(
                EnrolmentDue(npo_id=state.npo_id, partition=state.partition, due_at=state.due_at)
            ),
        )
    else:
        _due.delete_raw(key)


def of_npo(npo_id: str, partition: int | None = None) -> Iterator[EnrolmentState]:
    """The NPO's enrolments on this worker's active partitions (optionally one partition)."""
    needle = f'"npo_id":"{npo_id}"'.encode()
    for _, state in matching(_states.items(), needle, EnrolmentState):
        if state.npo_id == npo_id and (partition is None or state.partition == partition):
            yield state


def purge_npo(npo_id: str, partition: int, limit: int) -> tuple[int, bool]:
    """Delete up to ``limit`` of the NPO's enrolments stored on ``partition`` (states and due
    entries, tombstones); how many, and whether more are left. Call while processing an event of
    that partition."""
    return _delete(of_npo(npo_id, partition), limit)


def expire_settled(
    partition: int,
    now: datetime,
    retention: timedelta,
    limit: int,
    npo_gone: Callable[[str], bool],
) -> tuple[int, bool]:
    """Delete up to ``limit`` of the enrolments stored on ``partition`` that have been settled for
    ``retention`` (``EnrolmentState.expired``), whatever their NPO, or whose NPO's state is due
    to go (``npo_gone``: deactivated past its retention, or erased), whatever their status; how
    many, and whether more are left. Call while processing an event of that partition.

    The second rule reaches what an NPO's own purge cannot see: the enrolments of an NPO whose
    records were never pulled (its purge starts from its record states' partition)."""
    needle = b'"partition":%d,' % partition
    found = (
        state
        for _, state in matching(_states.items(), needle, EnrolmentState)
        if state.partition == partition
        and (state.expired(now, retention) or npo_gone(state.npo_id))
    )
    return _delete(found, limit)


def _delete(found: Iterator[EnrolmentState], limit: int) -> tuple[int, bool]:
    """The one deletion of the sweeps: up to ``limit`` of ``found`` (read up to one more, to
    tell whether more are left), states and due entries as tombstones."""
    chosen = [state.assignment_id for state in islice(found, limit + 1)]
    for assignment_id in chosen[:limit]:
        key = assignment_id.encode()
        _states.delete_raw(key)
        _due.delete_raw(key)
    _states.flush()
    _due.flush()
    return min(len(chosen), limit), len(chosen) > limit


def of_candidate(candidate_id: str, partition: int) -> Iterator[EnrolmentState]:
    """The candidate's enrolments stored on ``partition`` (a scan of this worker's enrolments)."""
    needle = b'"candidate_id":' + json_string(candidate_id)
    for _, state in matching(_states.items(), needle, EnrolmentState):
        if state.partition == partition and state.assignment.candidate.candidate_id == candidate_id:
            yield state


def due() -> Iterator[tuple[str, EnrolmentDue]]:
    """Every enrolment waiting for a retry or watching a call, on this
    worker's active partitions."""
    for key, raw in _due.items():
        try:
            yield key.decode(), decode(EnrolmentDue, raw)
        except DecodeError as exc:
            log.warning("unreadable enrolment due entry skipped: %s", exc)
