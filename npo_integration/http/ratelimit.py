"""Per-NPO token bucket: at most ``burst`` requests at once, ``requests_per_second`` sustained."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from npo_integration.models.npo_config import RateLimitConfig

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class TokenBucket:
    """Reservation-style bucket: each caller takes a token now, going into debt if none is left,
    and sleeps exactly until its token would have been refilled.

    No lock and no polling: concurrent callers queue up in the order they
    arrived, each with one computed sleep.
    """

    __slots__ = ("_capacity", "_clock", "_rate", "_sleep", "_tokens", "_updated")

    def __init__(
        self,
        config: RateLimitConfig,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._rate = config.requests_per_second
        self._capacity = float(config.burst)
        self._tokens = float(config.burst)
        self._clock = clock
        self._sleep = sleep
        self._updated = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._capacity, self._tokens + (now - self._updated) * self._rate)
        self._updated = now

    def reserve(self) -> float:
        """Take one token and return how long to wait before using it (0 when one was available)."""
        self._refill()
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self._rate

    async def acquire(self) -> None:
        """Wait for this caller's turn; a cancelled waiter gives its token back."""
        wait = self.reserve()
        if wait <= 0:
            return
        try:
            await self._sleep(wait)
        except asyncio.CancelledError:
            self._tokens += 1.0
            raise
