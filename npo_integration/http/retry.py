"""Retrying transient NPO failures: exponential backoff with full jitter, honouring Retry-After."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from npo_integration.errors import RetriableError
from npo_integration.models.npo_config import RetryConfig

logger = logging.getLogger(__name__)

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


class RetryPolicy:
    """``max_attempts`` tries; between them sleep ``uniform(0, min(max, base * 2**(n-1)))``.

    Full jitter spreads the retries of many streams hitting one NPO. A server's
    ``retry_after`` wins when larger; when it is larger than
    ``backoff_max_seconds`` the error is raised at once so that the caller
    reschedules instead of holding a request open for minutes.
    """

    __slots__ = ("_config", "_sleep", "_random")

    def __init__(
        self,
        config: RetryConfig,
        *,
        sleep: Sleep = asyncio.sleep,
        random_fraction: Callable[[], float] = random.random,
    ) -> None:
        self._config = config
        self._sleep = sleep
        self._random = random_fraction

    @property
    def max_attempts(self) -> int:
        return self._config.max_attempts

    def delay(self, attempt: int, retry_after: float | None = None) -> float | None:
        """Seconds to wait after failed ``attempt`` (1-based); ``None``: server asks too long."""
        cfg = self._config
        if retry_after is not None and retry_after > cfg.backoff_max_seconds:
            return None
        ceiling = min(cfg.backoff_max_seconds, cfg.backoff_base_seconds * 2 ** (attempt - 1))
        backoff = self._random() * ceiling
        return max(backoff, retry_after) if retry_after is not None else backoff

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
                if attempt >= self._config.max_attempts or not should_retry(exc):
                    raise
                wait = self.delay(attempt, exc.retry_after)
                if wait is None:
                    raise
                logger.warning(
                    "%s failed (attempt %d/%d), retrying in %.2fs: %s",
                    label or "call",
                    attempt,
                    self._config.max_attempts,
                    wait,
                    exc,
                )
                await self._sleep(wait)
                attempt += 1
