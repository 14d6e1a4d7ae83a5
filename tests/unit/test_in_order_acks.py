"""A partition's messages are acknowledged in the order read, whatever order their work ends in
(Faust would otherwise commit past a message still running)."""

from __future__ import annotations

from dataclasses import dataclass

from faust.types import TP

from npo_integration.agents.in_order_acks import InOrderAcks

P0, P1 = TP("t", 0), TP("t", 1)


@dataclass
class Message:
    tp: TP
    offset: int


@dataclass
class Event:
    message: Message


def event(tp: TP, offset: int) -> Event:
    return Event(Message(tp, offset))


async def test_a_later_message_done_first_waits_for_the_earlier_one() -> None:
    acked: list[tuple[int, int]] = []

    async def acknowledge(e: Event) -> None:  # type: ignore[misc]
        acked.append((e.message.tp.partition, e.message.offset))

    acks = InOrderAcks()
    first, second, third, other = event(P0, 5), event(P0, 6), event(P0, 7), event(P1, 3)
    for e in (first, second, third, other):
        acks.read(e)  # type: ignore[arg-type]
    await acks.done(third, acknowledge)  # type: ignore[arg-type]
    await acks.done(other, acknowledge)  # type: ignore[arg-type]
    assert acked == [(1, 3)]  # another partition is not held up
    await acks.done(first, acknowledge)  # type: ignore[arg-type]
    assert acked == [(1, 3), (0, 5)]  # 6 still running: 7 waits
    await acks.done(second, acknowledge)  # type: ignore[arg-type]
    assert acked == [(1, 3), (0, 5), (0, 6), (0, 7)]
    assert acks.open_count() == 0


async def test_a_revoked_partition_acknowledges_nothing_more() -> None:
    acked: list[int] = []

    async def acknowledge(e: Event) -> None:  # type: ignore[misc]
        acked.append(e.message.offset)

    acks = InOrderAcks()
    running, finished = event(P0, 1), event(P0, 2)
    acks.read(running)  # type: ignore[arg-type]
    acks.read(finished)  # type: ignore[arg-type]
    await acks.done(finished, acknowledge)  # type: ignore[arg-type]
    acks.forget([P0])
    await acks.done(running, acknowledge)  # type: ignore[arg-type]
    assert acked == [] and acks.open_count() == 0
