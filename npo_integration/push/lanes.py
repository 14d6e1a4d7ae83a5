"""Work that runs concurrently across keys, in order within a key, bounded per group and in total.

The enrolment agent runs one lane per assignment (its events stay in order)
and groups lanes by NPO: an NPO that answers after 30 s holds at most its own
group's slots, while the other NPOs' enrolments go on. ``max_pending`` bounds
what waits in memory; past it, ``submit`` waits (the stream stops reading).

Each piece of work may carry a ``tag`` (the agent tags it with its Kafka
partition): ``release(tags, grace)`` gives up the work of partitions this
worker hands over in a rebalance, waiting a bounded time for what is running.

Faust-free; the agent acknowledges each message when its work is done.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Hashable
from dataclasses import dataclass

log = logging.getLogger(__name__)

Work = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Released:
    """What ``release`` found: work running, and how much of it was cancelled after the grace."""

    waiting: int
    running: int
    cancelled: int


class _Entry:
    __slots__ = ("started", "tag")

    def __init__(self, tag: Hashable) -> None:
        self.tag = tag
        self.started = False


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
        self._entries: dict[asyncio.Task[None], _Entry] = {}
        self._pending = 0
        self._max_pending = max_pending
        self._room = asyncio.Event()
        self._room.set()
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def pending(self) -> int:
        return self._pending

    async def submit(self, key: str, group: str, work: Work, *, tag: Hashable = None) -> None:
        """Queue ``work``; returns once it is queued (waits while ``max_pending`` are pending).
        A key's work must always carry the same ``tag``."""
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
        entry = _Entry(tag)
        task = asyncio.ensure_future(self._run(before, group, slot, work, entry))
        self._tails[key] = task
        self._entries[task] = entry
        task.add_done_callback(lambda done: self._finished(key, group, slot, done))

    async def drain(self) -> None:
        """Return once everything submitted so far is done."""
        await self._idle.wait()

    async def release(self, tags: Collection[Hashable], *, grace: float) -> Released:
        """Give up the work tagged with ``tags``: what has not started is cancelled at once, what
        runs has ``grace`` seconds to end and is cancelled then. Returns once all of it is over."""
        tasks = [task for task, entry in self._entries.items() if entry.tag in tags]
        waiting = [task for task in tasks if not self._entries[task].started]
        running = [task for task in tasks if self._entries[task].started]
        for task in waiting:
            task.cancel()
        late: set[asyncio.Task[None]] = set()
        if running:
            _, late = await asyncio.wait(running, timeout=grace)
            for task in late:
                task.cancel()
        if waiting or late:
            await asyncio.wait([*waiting, *late])
        return Released(waiting=len(waiting), running=len(running), cancelled=len(late))

    async def _run(
        self,
        before: asyncio.Task[None] | None,
        group: str,
        slot: _Group,
        work: Work,
        entry: _Entry,
    ) -> None:
        if before is not None:
            # in order within the key, whatever became of the one before
            await asyncio.wait([before])
        async with slot.slots, self._total:
            entry.started = True
            try:
                await work()
            except Exception:
                log.exception("lane work of group %s failed", group)

    def _finished(self, key: str, group: str, slot: _Group, task: asyncio.Task[None]) -> None:
        del self._entries[task]
        if self._tails.get(key) is task:
            del self._tails[key]
        slot.users -= 1
        if slot.users == 0 and self._groups.get(group) is slot:
            del self._groups[group]
        self._pending -= 1
        self._room.set()
        if self._pending == 0:
            self._idle.set()
