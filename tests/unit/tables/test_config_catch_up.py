"""The end offsets a "no config" decision waits for: one broker read serves every caller that
asked before it started, and a caller never uses a read that started before it asked."""

from __future__ import annotations

import asyncio

import pytest

from npo_integration.app import app  # noqa: F401  (wires the tables first)
from npo_integration.tables import npo_configs


async def test_callers_during_a_read_share_the_next_one(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[int] = []
    reading = asyncio.Event()
    release = asyncio.Event()

    async def end_offsets() -> dict[tuple[str, int], int]:
        started.append(len(started))
        reading.set()
        await release.wait()
        release.clear()
        return {("changelog", 0): len(started)}

    monkeypatch.setattr(npo_configs, "_end_offsets", end_offsets)
    shared = npo_configs._SharedEnds()
    first = asyncio.create_task(shared.read())
    await reading.wait()  # the first read is in flight
    reading.clear()
    later = [asyncio.create_task(shared.read()) for _ in range(5)]
    await asyncio.sleep(0)
    release.set()
    assert await first == {("changelog", 0): 1}
    await reading.wait()  # the second read, for the five
    release.set()
    answers = await asyncio.gather(*later)
    assert answers == [{("changelog", 0): 2}] * 5  # one more read for the five, started after
    assert len(started) == 2


async def test_a_broker_error_reaches_every_waiter_and_the_next_call_reads_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = 0

    async def end_offsets() -> dict[tuple[str, int], int]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("broker gone")
        return {("changelog", 0): 7}

    monkeypatch.setattr(npo_configs, "_end_offsets", end_offsets)
    shared = npo_configs._SharedEnds()
    with pytest.raises(ConnectionError):
        await shared.read()
    assert await shared.read() == {("changelog", 0): 7}
