import asyncio

import pytest

from npo_integration.http.ratelimit import TokenBucket
from npo_integration.models.npo_config import RateLimitConfig


def bucket(clock, sleep, *, rps: float = 2.0, burst: int = 3) -> TokenBucket:
    config = RateLimitConfig(requests_per_second=rps, burst=burst)
    return TokenBucket(config, clock=clock, sleep=sleep)


async def test_burst_passes_then_sustained_rate(clock, fake_sleep) -> None:
    limiter = bucket(clock, fake_sleep)
    for _ in range(3):
        await limiter.acquire()
    assert fake_sleep.calls == []
    await limiter.acquire()
    await limiter.acquire()
    assert fake_sleep.calls == [pytest.approx(0.5), pytest.approx(0.5)]


async def test_concurrent_callers_each_sleep_once_in_arrival_order() -> None:
    now = [0.0]
    sleeps: list[float] = []

    async def record(seconds: float) -> None:  # does not move time: all reserve at t=0
        sleeps.append(seconds)

    limiter = bucket(lambda: now[0], record, rps=4, burst=2)
    await asyncio.gather(*(limiter.acquire() for _ in range(5)))
    assert sleeps == [pytest.approx(0.25), pytest.approx(0.5), pytest.approx(0.75)]


async def test_tokens_refill_up_to_burst(clock, fake_sleep) -> None:
    limiter = bucket(clock, fake_sleep, rps=1, burst=2)
    await limiter.acquire()
    await limiter.acquire()
    clock.advance(100)
    await limiter.acquire()
    await limiter.acquire()
    assert fake_sleep.calls == []
    await limiter.acquire()
    assert fake_sleep.calls == [pytest.approx(1.0)]


async def test_cancelled_waiter_returns_its_token(clock) -> None:
    gate = asyncio.Event()

    async def blocked(seconds: float) -> None:
        await gate.wait()

    limiter = bucket(clock, blocked, rps=1, burst=1)
    await limiter.acquire()
    waiter = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    clock.advance(1)
    assert limiter.reserve() == 0.0
