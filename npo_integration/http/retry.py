"""Retrying transient NPO failures: exponential backoff with full jitter, honouring Retry-After."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from npo_integration.errors import RetriableError
from npo_integration.models.npo_config import RetryConfig
from npo_integration.retry_policy import RetryPolicy

logger = logging.getLogger(__name__)

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


class Retrier:
    """Tries an NPO call up to ``max_attempts`` times, with full jitter between tries.

    Full jitter spreads the retries of many streams hitting one NPO. A server's
    ``retry_after`` wins when larger; when it is larger than
    ``backoff_max_seconds`` the error is raised at once so that the caller
    reschedules instead of holding a request open for minutes.
    """

    __slots__ = ("_random", "_sleep", "policy")

    def __init__(
        self,
        config: RetryConfig,
        *,
        sleep: Sleep = asyncio.sleep,
        random_fraction: Callable[[], float] = random.random,
    ) -> None:
        self.policy = RetryPolicy(
            max_attempts=config.max_attempts,
            base_seconds=config.backoff_base_seconds,
            max_seconds=config.backoff_max_seconds,
            jitter="full",
        )
        self._sleep = sleep
        self._random = random_fraction

    @property
    def max_attempts(self) -> int:
        return self.policy.max_attempts

    def delay(self, attempt: int, retry_after: float | None = None) -> float | None:
        """Seconds to wait after failed ``attempt`` (1-based); ``None``: server asks too long."""
        if retry_after is not None and retry_after > self.policy.max_seconds:
            return None
        return self.policy.delay(attempt, fraction=self._random(), retry_after=retry_after)

    async def run(
        self,
        operation: Callable[[], Awaitable[T]],
        *,
        should_retry: Callable[[RetriableError], bool] = lambda _exc: True,
        label: str = "",
    ) -> T:
        """Await ``operation`` until it succeeds, fails for good, or runs out of attempts."""
        attempt = 1
        while True:
            try:
                return await operation()
            except RetriableError as exc:
                if self.policy.exhausted(attempt) or not should_retry(exc):
                    raise
                wait = self.delay(attempt, exc.retry_after)
                if wait is None:
                    raise
                logger.warning(
                    "%s failed (attempt %d/%d), retrying in %.2fs: %s",
                    label or "call",
                    attempt,
                    self.policy.max_attempts,
                    wait,
                    exc,
                )
                await self._sleep(wait)
                attempt += 1
