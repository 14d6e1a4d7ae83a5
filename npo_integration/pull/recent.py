"""The last few pull runs of each NPO this worker pulled, for the status views and ``/ops``.

Read from the pull states this worker writes (``pull_state.subscribe``): a run ended when a
stream's ``last_success_at`` or ``last_error_at`` moves. Kept in memory only, bounded: the last
``RUNS_KEPT`` runs of the ``NPOS_KEPT`` NPOs pulled most lately. A restart or a rebalance starts
the list afresh on the new owner; the durable per-stream last run is in the pull state.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from npo_integration.models.state import PullState, StreamPullState

RUNS_KEPT = 5
NPOS_KEPT = 10_000
ERROR_CHARS = 300


class PullRun(BaseModel):
    model_config = ConfigDict(frozen=True)

    stream: str
    ended_at: datetime
    ok: bool
    records: int
    error: str | None = None


class RecentPulls:
    def __init__(self, runs: int = RUNS_KEPT, npos: int = NPOS_KEPT) -> None:
        self._runs = runs
        self._npos = npos
        self._last: dict[tuple[str, str], StreamPullState] = {}
        self._by_npo: OrderedDict[str, list[PullRun]] = OrderedDict()

    def observe(self, state: PullState) -> None:
        for stream, now in state.streams.items():
            before = self._last.get((state.npo_id, stream))
            self._last[(state.npo_id, stream)] = now
            run = _ended(stream, before, now)
            if run is not None:
                self._add(state.npo_id, run)

    def of(self, npo_id: str) -> list[PullRun]:
        """Newest first."""
        return list(reversed(self._by_npo.get(npo_id, [])))

    def _add(self, npo_id: str, run: PullRun) -> None:
        runs = self._by_npo.pop(npo_id, [])
        runs = [*runs, run][-self._runs :]
        self._by_npo[npo_id] = runs
        while len(self._by_npo) > self._npos:
            dropped, _ = self._by_npo.popitem(last=False)
            for key in [k for k in self._last if k[0] == dropped]:
                del self._last[key]


def _ended(stream: str, before: StreamPullState | None, now: StreamPullState) -> PullRun | None:
    """The run that ``now`` ends, if it ends one: a write that leaves the stream not running with
    a new success or error time (a first write seen while running only starts a run)."""
    if now.running_since is not None:
        return None
    was = before or StreamPullState()
    error = (now.last_error or "")[:ERROR_CHARS] or None
    if now.last_success_at is not None and now.last_success_at != was.last_success_at:
        problem = error if now.last_error_at == now.last_success_at else None
        return PullRun(
            stream=stream,
            ended_at=now.last_success_at,
            ok=True,
            records=now.records_last_run,
            error=problem,
        )
    if now.last_error_at is not None and now.last_error_at != was.last_error_at:
        return PullRun(
            stream=stream,
            ended_at=now.last_error_at,
            ok=False,
            records=now.records_last_run,
            error=error,
        )
    return None


recent_pulls = RecentPulls()
