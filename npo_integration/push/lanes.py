"""Work that runs concurrently across keys, in order within a key, bounded per group and in total.

The enrolment agent runs one lane per assignment (its events stay in order)
and groups lanes by NPO: an NPO that answers after 30 s holds at most its own
group's slots, while the other NPOs' enrolments go on. ``max_pending`` bounds
what waits in memory; past it, ``submit`` waits (the stream stops reading).

Faust-free; the agent acknowledges each message when its work is done.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

Work = Callable[[], Awaitable[None]]


class _Group:
    __slots__ = ("slots", "users")

    def __init__(self, size: int) -> None:
        self.slots = asyncio.Semaphore(size)
        self.users = 0


class Lanes:
    """``submit(key, group, work)``: ``work`` after the key's earlier work, within the bounds."""

    def __init__(self, *, per_group: int, total: int, max_pending: int) -> None:
        if min(per_group, total, max_pending) < 1:
            raise ValueError("bounds must be at least 1")
        self._per_group = per_group
        self._total = asyncio.Semaphore(total)
        self._groups: dict[str, _Group] = {}
        self._tails: dict[str, asyncio.Task[None]] = {}
        self._pending = 0
        self._max_pending = max_pending
        self._room = asyncio.Event()
        self._room.set()
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def pending(self) -> int:
        return self._pending

    async def submit(self, key: str, group: str, work: Work) -> None:
        """Queue ``work``; returns once it is queued (waits while ``max_pending`` are pending)."""
        while self._pending >= self._max_pending:
            self._room.clear()
            await self._room.wait()
        self._pending += 1
        self._idle.clear()
        slot = self._groups.get(group)
        if slot is None:
            slot = self._groups[group] = _Group(self._per_group)
        slot.users += 1
        before = self._tails.get(key)
        task = asyncio.ensure_future(self._run(before, group, slot, work))
        self._tails[key] = task
        task.add_done_callback(lambda done: self._finished(key, group, slot, done))

    async def drain(self) -> None:
        """Return once everything submitted so far is done."""
        await self._idle.wait()

    async def _run(
        self, before: asyncio.Task[None] | None, group: str, slot: _Group, work: Work
    ) -> None:
        if before is not None:
            # in order within the key, whatever became of the one before
            await asyncio.wait([before])
        async with slot.slots, self._total:
            try:
                await work()
            except Exception:
                log.exception("lane work of group %s failed", group)

    def _finished(self, key: str, group: str, slot: _Group, task: asyncio.Task[None]) -> None:
        if self._tails.get(key) is task:
            del self._tails[key]
        slot.users -= 1
        if slot.users == 0 and self._groups.get(group) is slot:
            del self._groups[group]
        self._pending -= 1
        self._room.set()
        if self._pending == 0:
            self._idle.set()
