"""Reading a stream in batches, one partition at a time, with table
writes landing on that partition.

Faust writes a table key to the changelog partition of the *current event*, a
context variable its stream sets while an agent handles one event. A batch
holds events of several partitions and has no current event, so
:func:`in_partition` sets it to an event of the partition being handled: table
reads and writes inside the block go to that partition's store and changelog,
as they would for a single event.

Events buffered before a rebalance are dropped from a batch when their
partition is no longer this worker's (another generation, or not actively
assigned): the new owner reads them again from the committed offset.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import cast

from faust import Stream, StreamT
from faust.streams import _current_event
from faust.types import AppT, EventT

DEFAULT_WITHIN_SECONDS = 0.05


async def partition_batches(
    app: AppT, stream: StreamT[bytes], *, size: int, within: float = DEFAULT_WITHIN_SECONDS
) -> AsyncIterator[list[tuple[int, list[EventT[bytes]]]]]:
    """Up to ``size`` events at a time (or what arrived within ``within`` seconds), grouped by
    partition in offset order. The events are acknowledged when the
    caller asks for the next batch."""
    # Agents are handed a faust.Stream: Faust's StreamT interface does not declare take_events.
    async for events in cast(Stream[bytes], stream).take_events(size, within=within):
        yield group_by_partition(app, events)


async def apply_in_batches(
    app: AppT,
    stream: StreamT[bytes],
    *,
    size: int,
    apply: Callable[[EventT[bytes]], Awaitable[None] | None],
    durable: Callable[[], Awaitable[None]],
) -> None:
    """Apply every event of the stream, batch by batch, in its partition's context and in offset
    order; ``apply`` returns the dead letter of an event it refuses, or ``None``. A batch's table
    writes are ``durable`` (acknowledged by the broker) before its dead letters go out and before
    its events are acknowledged (when the next batch is asked for)."""
    async for groups in partition_batches(app, stream, size=size):
        letters: list[Awaitable[None]] = []
        for _, events in groups:
            with in_partition(events[-1]):
                for event in events:
                    letter = apply(event)
                    if letter is not None:
                        letters.append(letter)
        await durable()
        if letters:
            await asyncio.gather(*letters)


def group_by_partition(
    app: AppT, events: Sequence[EventT[bytes]]
) -> list[tuple[int, list[EventT[bytes]]]]:
    """The events this worker still owns, per partition, each group in offset order."""
    generation = app.consumer_generation_id
    actives = app.assignor.assigned_actives()
    groups: dict[int, list[EventT[bytes]]] = defaultdict(list)
    for event in events:
        message = event.message
        if message.generation_id != generation or message.tp not in actives:
            continue
        groups[message.partition].append(event)
    return sorted(groups.items())


@contextmanager
def in_partition(event: EventT[bytes]) -> Iterator[None]:
    """Table reads and writes in the block belong to ``event``'s
    partition (see the module's doc)."""
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)
