"""The Faust patches refuse a Faust release they were not written for, instead of misbehaving."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from types import SimpleNamespace

import faust
import pytest
from aiokafka import TopicPartition

from npo_integration.faust_patches import WRITTEN_FOR, check_faust_version, seek_to_committed


def test_the_installed_faust_is_the_release_the_patches_were_written_for() -> None:
    check_faust_version(faust.__version__)


@pytest.mark.parametrize("other", ["0.16.0", "0.14.9", "1.0.0"])
def test_another_faust_release_is_refused_with_both_versions_named(other: str) -> None:
    with pytest.raises(RuntimeError) as refused:
        check_faust_version(other)
    assert other in str(refused.value) and WRITTEN_FOR in str(refused.value)


class _ConsumerThread:
    """Faust's consumer thread, as far as the seek patch uses it: ``call_thread`` runs a function
    on another thread, as mode's does; aiokafka's consumer records the thread of each seek."""

    def __init__(self, committed: dict[TopicPartition, int | None]) -> None:
        self.committed = committed
        self.seeks: list[tuple[TopicPartition, int, int]] = []

    async def seek_to_committed(self) -> dict[TopicPartition, int | None]:
        return self.committed

    async def call_thread(self, fun: Callable[..., object], *args: object) -> object:
        return await asyncio.to_thread(fun, *args)

    def _ensure_consumer(self) -> _ConsumerThread:
        return self

    def seek(self, tp: TopicPartition, offset: int) -> None:  # aiokafka's, and Faust's sync one
        self.seeks.append((tp, offset, threading.get_ident()))


async def test_partitions_without_a_committed_offset_are_sought_on_the_consumer_thread() -> None:
    """A seek from the event loop's thread races the consumer thread over aiokafka's fetched
    batches (a KeyError that stopped a restarted worker); the read mark goes back as well."""
    fresh, never, done = (TopicPartition("raw", p) for p in (0, 1, 2))
    thread = _ConsumerThread({fresh: 0, never: None, done: 7})

    async def faust_seek(
        tp: TopicPartition, offset: int
    ) -> None:  # Faust's: on the caller's thread
        thread.seek(tp, offset)

    consumer = SimpleNamespace(
        _thread=thread,
        seek=faust_seek,
        _read_offset={fresh: 40, never: 12, done: 7},
        app=SimpleNamespace(
            conf=SimpleNamespace(consumer_auto_offset_reset="earliest"),
            tables=SimpleNamespace(changelog_topics=set()),
        ),
    )
    committed = await seek_to_committed(consumer)
    assert committed == {fresh: 0, never: None, done: 7}
    assert sorted((tp.partition, offset) for tp, offset, _ in thread.seeks) == [(0, 0), (1, 0)]
    assert {ident for *_, ident in thread.seeks} != {threading.get_ident()}
    assert consumer._read_offset == {fresh: None, never: None, done: 7}
