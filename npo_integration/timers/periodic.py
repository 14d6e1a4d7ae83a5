"""The one skeleton of the service's timers, and the partitions that give a worker its share.

A tick does nothing until every topic exists (``topics_ready``) and while the
worker is rebalancing, since the partitions it owns are about to change. What a
tick raises is logged and counted (``npo_timer_errors``), never raised to Faust:
a timer that raises stops the worker, and the next tick tries again anyway.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable

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
    """``tick`` run only when topics are ready and not rebalancing; what it raises logged and counted."""
    name = tick.__name__

    @functools.wraps(tick)
    async def run() -> None:
        if not topics_ready.is_set() or app.rebalancing:
            return
        try:
            await tick()
        except Exception:  # noqa: BLE001 - see the module's docstring
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
