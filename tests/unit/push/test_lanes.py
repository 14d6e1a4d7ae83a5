"""Lanes: in order within a key, concurrent across keys, bounded per group and in total."""

from __future__ import annotations

import asyncio

import pytest

from npo_integration.push.lanes import Lanes


async def test_one_keys_work_runs_in_order_and_other_keys_run_beside_it() -> None:
    lanes = Lanes(per_group=10, total=10, max_pending=100)
    log: list[str] = []
    release = asyncio.Event()

    async def slow_first() -> None:
        log.append("a1 start")
        await release.wait()
        log.append("a1 end")

    async def step(name: str) -> None:
        log.append(name)

    await lanes.submit("a", "npo", slow_first)
    await lanes.submit("a", "npo", lambda: step("a2"))
    await lanes.submit("b", "npo", lambda: step("b1"))
    await asyncio.sleep(0.01)
    assert log == ["a1 start", "b1"]  # b went on while a waited; a2 waits for a1
    release.set()
    await lanes.drain()
    assert log == ["a1 start", "b1", "a1 end", "a2"] and lanes.pending == 0


async def test_a_slow_group_holds_only_its_own_slots() -> None:
    lanes = Lanes(per_group=2, total=3, max_pending=100)
    slow = asyncio.Event()
    running = {"slow": 0, "fast": 0}
    most_slow = 0

    async def slow_call() -> None:
        nonlocal most_slow
        running["slow"] += 1
        most_slow = max(most_slow, running["slow"])
        await slow.wait()
        running["slow"] -= 1

    fast_done: list[int] = []
    for n in range(5):
        await lanes.submit(f"slow-{n}", "slow-npo", slow_call)
    for n in range(5):
        await lanes.submit(
            f"fast-{n}", "fast-npo", lambda n=n: asyncio.sleep(0, fast_done.append(n))
        )
    await asyncio.wait_for(_until(lambda: len(fast_done) == 5), 2)
    assert most_slow == 2  # the slow NPO never had more than its group's slots
    slow.set()
    await lanes.drain()


async def test_submit_waits_when_too_much_is_pending() -> None:
    lanes = Lanes(per_group=1, total=1, max_pending=2)
    gate = asyncio.Event()
    await lanes.submit("a", "g", gate.wait)
    await lanes.submit("b", "g", gate.wait)
    third = asyncio.ensure_future(lanes.submit("c", "g", gate.wait))
    await asyncio.sleep(0.01)
    assert not third.done()
    gate.set()
    await asyncio.wait_for(third, 1)
    await lanes.drain()


async def test_a_failing_work_does_not_stop_its_lane() -> None:
    lanes = Lanes(per_group=1, total=1, max_pending=10)
    done: list[str] = []

    async def boom() -> None:
        raise RuntimeError("bug")

    await lanes.submit("a", "g", boom)
    await lanes.submit("a", "g", lambda: asyncio.sleep(0, done.append("after")))
    await lanes.drain()
    assert done == ["after"]


def test_bounds_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Lanes(per_group=0, total=1, max_pending=1)


async def _until(condition: object) -> None:
    # Polls: the condition is any state of the code under test, with no event to wait on.
    while not condition():  # type: ignore[operator]  # noqa: ASYNC110
        await asyncio.sleep(0.001)


async def test_release_cancels_waiting_work_and_waits_for_running_work_within_the_grace() -> None:
    lanes = Lanes(per_group=1, total=10, max_pending=100)
    finish = asyncio.Event()
    log: list[str] = []

    async def call(name: str) -> None:
        log.append(f"{name} start")
        await finish.wait()
        log.append(f"{name} end")

    await lanes.submit("a", "npo", lambda: call("a1"), tag=0)
    await lanes.submit("a", "npo", lambda: call("a2"), tag=0)  # after a1 in its lane
    await lanes.submit("b", "npo", lambda: call("b1"), tag=0)  # waits for the NPO's one slot
    await lanes.submit("c", "other", lambda: call("c1"), tag=1)  # another partition
    await asyncio.sleep(0.01)
    releasing = asyncio.ensure_future(lanes.release({0}, grace=5))
    await asyncio.sleep(0.01)
    assert not releasing.done()  # a1 is running: it gets its grace
    finish.set()
    released = await asyncio.wait_for(releasing, 1)
    assert (released.waiting, released.running, released.cancelled) == (2, 1, 0)
    await lanes.drain()
    assert sorted(log) == ["a1 end", "a1 start", "c1 end", "c1 start"]
    assert lanes.pending == 0


async def test_release_cancels_running_work_after_the_grace() -> None:
    lanes = Lanes(per_group=4, total=4, max_pending=100)
    cancelled: list[str] = []

    async def hangs() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append("a")
            raise

    await lanes.submit("a", "npo", hangs, tag=3)
    await asyncio.sleep(0.01)
    released = await asyncio.wait_for(lanes.release([3], grace=0.05), 1)
    assert released.cancelled == 1 and cancelled == ["a"] and lanes.pending == 0
