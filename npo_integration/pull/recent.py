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


Ends = tuple[datetime | None, datetime | None]
"""A stream's last success and last error times as last seen: what tells a run's end from any
other write of its pull state."""


class RecentPulls:
    def __init__(self, runs: int = RUNS_KEPT, npos: int = NPOS_KEPT) -> None:
        self._runs = runs
        self._npos = npos
        # by NPO, so that the NPO dropped from the list is forgotten at once: a scan of every
        # stream seen here for each drop made each pull cost O(NPOs) once more than ``npos``
        # NPOs were pulled (a first sweep of 100,000 ran at a fifth of its speed)
        self._ends: dict[str, dict[str, Ends]] = {}
        self._by_npo: OrderedDict[str, list[PullRun]] = OrderedDict()

    def observe(self, state: PullState) -> None:
        ends = self._ends.setdefault(state.npo_id, {})
        for stream, now in state.streams.items():
            before = ends.get(stream)
            ends[stream] = (now.last_success_at, now.last_error_at)
            run = _ended(stream, before, now)
            if run is not None:
                self._add(state.npo_id, run)

    def of(self, npo_id: str) -> list[PullRun]:
        """Newest first."""
        return list(reversed(self._by_npo.get(npo_id, [])))

    def _add(self, npo_id: str, run: PullRun) -> None:
        runs = self._by_npo.pop(npo_id, [])
        runs.append(run)
        del runs[: -self._runs]
        self._by_npo[npo_id] = runs
        while len(self._by_npo) > self._npos:
            dropped, _ = self._by_npo.popitem(last=False)
            self._ends.pop(dropped, None)


def _ended(stream: str, before: Ends | None, now: StreamPullState) -> PullRun | None:
    """The run that ``now`` ends, if it ends one: a write that leaves the stream not running with
    a new success or error time (a first write seen while running only starts a run)."""
    if now.running_since is not None:
        return None
    was_success_at, was_error_at = before or (None, None)
    error = (now.last_error or "")[:ERROR_CHARS] or None
    if now.last_success_at is not None and now.last_success_at != was_success_at:
        problem = error if now.last_error_at == now.last_success_at else None
        return PullRun(
            stream=stream,
            ended_at=now.last_success_at,
            ok=True,
            records=now.records_last_run,
            error=problem,
        )
    if now.last_error_at is not None and now.last_error_at != was_error_at:
        return PullRun(
            stream=stream,
            ended_at=now.last_error_at,
            ok=False,
            records=now.records_last_run,
            error=error,
        )
    return None


recent_pulls = RecentPulls()
