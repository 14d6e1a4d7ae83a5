"""Per-NPO circuit breaker: stop calling an NPO that keeps failing, probe it now and then.

closed --(failure_threshold consecutive retriable failures)--> open
open --(reset_after_seconds)--> half-open: exactly one probe call goes through
half-open --probe succeeds--> closed; --probe fails--> open again.

Only retriable failures count (connection errors, timeouts, 5xx, 429): a 4xx
or an unusable body proves the NPO is up, so it counts as a success here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Literal

from npo_integration.http.errors import CircuitOpenError
from npo_integration.models.npo_config import CircuitBreakerConfig

logger = logging.getLogger(__name__)

CircuitState = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    """State for one NPO. Call :meth:`before_call`, then one of ``record_*`` or ``release``."""

    __slots__ = (
        "_clock",
        "_failures",
        "_name",
        "_opened_at",
        "_probing",
        "_reset_after",
        "_threshold",
    )

    def __init__(
        self,
        config: CircuitBreakerConfig,
        *,
        name: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._name = name
        self._threshold = config.failure_threshold
        self._reset_after = config.reset_after_seconds
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> CircuitState:
        if self._opened_at is None:
            return "closed"
        if self._probing or self._clock() - self._opened_at >= self._reset_after:
            return "half_open"
        return "open"

    def before_call(self) -> bool:
        """Let a call through or raise :class:`CircuitOpenError`; True if this call is the probe."""
        if self._opened_at is None:
            return False
        remaining = self._opened_at + self._reset_after - self._clock()
        if remaining > 0:
            raise CircuitOpenError(
                f"circuit for NPO {self._name!r} is open after repeated failures; "
                f"next probe in {remaining:.1f}s",
                retry_after=remaining,
            )
        if self._probing:
            raise CircuitOpenError(
                f"circuit for NPO {self._name!r} is half-open; a probe call is in flight"
            )
        self._probing = True
        logger.info("npo=%s circuit half-open: sending one probe", self._name)
        return True

    def record_success(self) -> None:
        if self._opened_at is not None:
            logger.info("npo=%s circuit closed", self._name)
        self._failures = 0
        self._opened_at = None
        self._probing = False

    def record_failure(self, *, probe: bool) -> None:
        if probe:
            self._probing = False
            self._open()
        elif self._opened_at is None:
            self._failures += 1
            if self._failures >= self._threshold:
                self._open()
        # a late failure of a call admitted before the circuit opened changes nothing

    def release(self, *, probe: bool) -> None:
        """The call ended without an answer either way (cancelled): free the probe slot."""
        if probe:
            self._probing = False

    def _open(self) -> None:
        self._opened_at = self._clock()
        logger.warning(
            "npo=%s circuit open for %.1fs after %d consecutive failures",
            self._name,
            self._reset_after,
            self._failures,
        )
