"""Which NPO streams are due for a pull, in time order: the scheduler's work follows what is due.

A heap of ``(due time, npo_id, stream)`` for the NPO streams this worker
schedules, and a map from each stream to its one valid due time. Changing a
stream's due time pushes a new entry and leaves the old one in the heap, where
it is skipped when it comes up (lazy deletion); the heap is compacted when
stale entries outnumber live ones. Faust-free, so the rules are unit-tested.
"""

from __future__ import annotations

import builtins
import heapq
from collections.abc import Iterable, Iterator

StreamKey = tuple[str, str]
"""``(npo_id, stream)``"""


class DueIndex:
    """NPO streams by due time (seconds on any monotonic-enough clock;
    callers use epoch seconds)."""

    __slots__ = ("_by_npo", "_due", "_heap")

    def __init__(self) -> None:
        self._heap: list[tuple[float, str, str]] = []
        self._due: dict[StreamKey, float] = {}
        self._by_npo: dict[str, set[str]] = {}

    def __len__(self) -> int:
        return len(self._due)

    def __contains__(self, key: StreamKey) -> bool:
        return key in self._due

    def due_at(self, npo_id: str, stream: str) -> float | None:
        return self._due.get((npo_id, stream))

    def set(self, npo_id: str, stream: str, due: float) -> None:
        """Schedule (or reschedule) one stream."""
        key = (npo_id, stream)
        if self._due.get(key) == due:
            return
        self._due[key] = due
        self._by_npo.setdefault(npo_id, set()).add(stream)
        heapq.heappush(self._heap, (due, npo_id, stream))
        if len(self._heap) > 2 * len(self._due) + 1024:
            self._compact()

    def keep_only(self, npo_id: str, streams: Iterable[str]) -> None:
        """Forget the NPO's streams not in ``streams`` (disabled, removed, or the NPO inactive)."""
        keep = set(streams)
        for stream in self._by_npo.get(npo_id, set()) - keep:
            self._due.pop((npo_id, stream), None)
            self._forget_stream(npo_id, stream)

    def streams_of(self, npo_id: str) -> builtins.set[str]:  # ``set`` is the method above
        return set(self._by_npo.get(npo_id, ()))

    def pop_due(self, now: float, limit: int | None = None) -> list[StreamKey]:
        """The streams due at ``now`` (at most ``limit``), earliest first; they leave the index
        until they are set again."""
        due: list[StreamKey] = []
        heap = self._heap
        while heap and heap[0][0] <= now and (limit is None or len(due) < limit):
            at, npo_id, stream = heapq.heappop(heap)
            key = (npo_id, stream)
            if self._due.get(key) != at:
                continue  # superseded or removed
            del self._due[key]
            self._forget_stream(npo_id, stream)
            due.append(key)
        return due

    def _forget_stream(self, npo_id: str, stream: str) -> None:
        streams = self._by_npo.get(npo_id)
        if streams is not None:
            streams.discard(stream)
            if not streams:
                del self._by_npo[npo_id]

    def next_due(self) -> float | None:
        """The earliest due time (stale entries dropped on the way)."""
        heap = self._heap
        while heap and self._due.get((heap[0][1], heap[0][2])) != heap[0][0]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def clear(self) -> None:
        self._heap.clear()
        self._due.clear()
        self._by_npo.clear()

    def items(self) -> Iterator[tuple[StreamKey, float]]:
        return iter(self._due.items())

    def _compact(self) -> None:
        self._heap = [(at, npo_id, stream) for (npo_id, stream), at in self._due.items()]
        heapq.heapify(self._heap)
