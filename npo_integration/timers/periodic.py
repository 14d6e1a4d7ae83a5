"""The one skeleton of the service's timers, and the partitions that give a worker its share.

A tick does nothing until every topic exists (``topics_ready``) and while the
worker is rebalancing, since the partitions it owns are about to change. What a
tick raises is logged and counted (``npo_timer_errors``), never raised to Faust:
a timer that raises stops the worker, and the next tick tries again anyway.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Hashable

from faust.types import TopicT

from npo_integration import metrics
from npo_integration.app import app
from npo_integration.boot import topics_ready

log = logging.getLogger(__name__)

Tick = Callable[[], Awaitable[None]]


def periodic(interval: float) -> Callable[[Tick], Tick]:
    """Register the decorated tick as an ``app.timer`` of ``interval`` seconds, ``guarded``."""

    def register(tick: Tick) -> Tick:
        app.timer(interval=interval)(guarded(tick))
        return tick

    return register


def guarded(tick: Tick) -> Tick:
    """``tick``, run only when topics are ready and not rebalancing; what it raises is counted."""
    name = tick.__name__

    @functools.wraps(tick)
    async def run() -> None:
        if not topics_ready.is_set() or app.rebalancing:
            return
        try:
            await tick()
        except Exception:
            failed(name, "timer %s failed; the next tick tries again", name)

    return run


def failed(timer: str, message: str, *args: object) -> None:
    """Log the exception being handled and count it against ``timer``."""
    metrics.timer_errors.labels(timer).inc()
    log.exception(message, *args)


def owned_partitions(topic: TopicT) -> frozenset[int]:
    """The partitions of ``topic`` this worker actively owns: its share of a timer's work."""
    name = topic.get_topic_name()
    return frozenset(tp.partition for tp in app.assignor.assigned_actives() if tp.topic == name)


class RecentSends:
    """What this worker's ticks sent lately, so that a tick does not send again what the consumer
    has not applied yet. A cache, not state: losing it costs one duplicate send at most."""

    __slots__ = ("_resend_after", "_sent")

    def __init__(self, resend_after: float) -> None:
        self._resend_after = resend_after
        self._sent: dict[Hashable, tuple[Hashable, float]] = {}

    def claim(self, key: Hashable, version: Hashable, now: float) -> bool:
        """True, and remembered, unless ``key`` at ``version`` went under ``resend_after`` ago."""
        sent = self._sent.get(key)
        if sent is not None and sent[0] == version and now - sent[1] < self._resend_after:
            return False
        self._sent[key] = (version, now)
        return True

    def forget_old(self, now: float) -> None:
        """Drop the sends too old to hold back another."""
        for key, (_version, sent_at) in list(self._sent.items()):
            if now - sent_at >= self._resend_after:
                del self._sent[key]
