"""Pull bookkeeping per NPO (schedule, cursor, last success, last error), keyed by npo_id.

Keyed like the fetch-requests topic, so the worker that owns an NPO's fetch
partition owns its pull state too, and both move together on a rebalance.

Each pull writes its state twice (started, ended): through Faust's own table path that was
about 9% of the worker's CPU in the steady-state sweep (bench/pull_sweep.py), so the changelog
is batched (``delivery/acked_table.py``). A write is not awaited: Faust flushed its own before
committing the fetch request's offset, this one goes out within 20 ms, so a SIGKILL in that
window may lose the last state of a pull whose request is committed. That costs what a SIGKILL
during a pull always cost: the pull is done again (its unchanged records skipped by ingestion).
"""

from __future__ import annotations

from collections.abc import Callable

from npo_integration.app import app
from npo_integration.delivery.acked_table import acked_bytes_table
from npo_integration.models.codec import decode, encode
from npo_integration.models.state import PullState
from npo_integration.tables.declare import ROCKSDB_OPTIONS
from npo_integration.worker_resources import batch_producer

table = acked_bytes_table(
    app,
    "npo-pull-state",
    help="npo_id -> PullState",
    producer=batch_producer,
    options=ROCKSDB_OPTIONS,
)

_listeners: list[Callable[[PullState], None]] = []


def subscribe(listener: Callable[[PullState], None]) -> None:
    """Call ``listener`` with every pull state this worker writes (the
    scheduler's due times follow)."""
    _listeners.append(listener)


def get(npo_id: str) -> PullState:
    raw = table.get_raw(npo_id.encode())
    return PullState(npo_id=npo_id) if raw is None else decode(PullState, raw)


def put(state: PullState) -> None:
    """Call only while processing an event keyed by this npo_id."""
    table.put_raw(state.npo_id.encode(), encode(state))
    for listener in _listeners:
        listener(state)


def items() -> list[PullState]:
    return [decode(PullState, raw) for raw in table.values()]
