"""Waiting for an observable condition with a deadline, never a bare sleep."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

TIME_FACTOR = float(os.environ.get("TEST_TIME_FACTOR") or (2.0 if os.environ.get("CI") else 1.0))
"""Every deadline of the integration tests is multiplied by this, set in one place:
``TEST_TIME_FACTOR``, else 2 when ``CI`` is set (CI shares a busy machine), else 1. A slow machine
makes a correct service wait longer, never fail; a deadline that is itself the claim under test
(a figure, "before the slow NPO answers") is asserted apart from it."""


def scaled(seconds: float) -> float:
    """``seconds`` of waiting, times ``TIME_FACTOR``."""
    return seconds * TIME_FACTOR


async def eventually(
    probe: Callable[[], Awaitable[T]],
    *,
    timeout: float = 30.0,
    interval: float = 0.2,
    what: str = "condition",
) -> T:
    """Call ``probe`` until it returns a truthy value; fail with
    ``what`` after ``timeout`` seconds (``scaled``)."""
    timeout = scaled(timeout)
    deadline = time.monotonic() + timeout
    last: T | None = None
    while True:
        last = await probe()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"timed out after {timeout:.0f}s waiting for {what}; last value: {last!r}"
            )
        await asyncio.sleep(interval)
