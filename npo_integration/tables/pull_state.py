"""Pull bookkeeping per NPO (schedule, cursor, last success, last error), keyed by npo_id.

Keyed like the fetch-requests topic, so the worker that owns an NPO's fetch
partition owns its pull state too, and both move together on a rebalance.
"""

from __future__ import annotations

from collections.abc import Callable

from npo_integration.models.codec import decode, encode
from npo_integration.models.state import PullState
from npo_integration.tables.declare import bytes_table

table = bytes_table("npo-pull-state", help="npo_id -> PullState")

_listeners: list[Callable[[PullState], None]] = []


def subscribe(listener: Callable[[PullState], None]) -> None:
    """Call ``listener`` with every pull state this worker writes (the
    scheduler's due times follow)."""
    _listeners.append(listener)


def get(npo_id: str) -> PullState:
    raw = table.get(npo_id.encode())
    return PullState(npo_id=npo_id) if raw is None else decode(PullState, raw)


def put(state: PullState) -> None:
    """Call only while processing an event keyed by this npo_id."""
    table[state.npo_id.encode()] = encode(state)
    for listener in _listeners:
        listener(state)


def items() -> list[PullState]:
    return [decode(PullState, raw) for raw in table.values()]
