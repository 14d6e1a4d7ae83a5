"""Acknowledging a partition's messages in the order they were read, whatever order their work
ends in.

The enrolment agent runs messages concurrently (one lane per assignment), so their work ends
out of order. Faust commits the first run of consecutive acknowledged offsets, and on a
partition without a committed offset it starts that run wherever the lowest acknowledged offset
is: a later message acknowledged before an earlier one still running would commit past the
earlier one, which a restart or a rebalance would then never read again (found by
bench/scaling.py: a quarter of the assignments of a freshly assigned partition never enrolled).
Here a message is acknowledged only once every message read before it on its partition is done,
so the acknowledged offsets are always a prefix of what was read.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from faust.types import TP, EventT

Acknowledge = Callable[[EventT[bytes]], Awaitable[None]]


@dataclass(slots=True)
class _Open:
    event: EventT[bytes]
    done: bool = False


class InOrderAcks:
    """Per partition: the messages read and not yet acknowledged, in offset order."""

    def __init__(self) -> None:
        self._open: dict[TP, OrderedDict[int, _Open]] = {}

    def read(self, event: EventT[bytes]) -> None:
        """``event`` was read: it is acknowledged after every earlier one of its partition."""
        message = event.message
        self._open.setdefault(message.tp, OrderedDict())[message.offset] = _Open(event)

    async def done(self, event: EventT[bytes], acknowledge: Acknowledge) -> None:
        """``event``'s work is over: ``acknowledge`` it and the done ones after it, once no
        earlier one of its partition is still open."""
        message = event.message
        entries = self._open.get(message.tp)
        entry = entries.get(message.offset) if entries is not None else None
        if entries is None or entry is None:
            return  # forgotten in a revocation: not ours to acknowledge any more
        entry.done = True
        while entries:
            offset, head = next(iter(entries.items()))
            if not head.done:
                return
            del entries[offset]
            await acknowledge(head.event)

    def forget(self, partitions: Iterable[TP]) -> None:
        """The partitions were revoked: what is open there is never acknowledged here (the next
        owner reads it again and finds it done, or resumes it)."""
        for tp in partitions:
            self._open.pop(tp, None)

    def open_count(self) -> int:
        return sum(len(entries) for entries in self._open.values())
