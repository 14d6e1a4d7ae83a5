"""Faust's monitor without its per-message bookkeeping.

Faust's default ``Monitor`` records every message, stream event, table access
and send (timestamps, dicts, deques): a measurable share of every message's
cost on the hot paths (profiled with py-spy on bench/enrolment.py and
bench/ingest.py). The service reports its own figures through Prometheus, so
those per-message hooks do nothing here; the per-commit, per-rebalance and
per-assignment hooks Faust keeps as they are, and the commit and rebalance ones
also feed Prometheus (``metrics.kafka_*``), as does the lag (end offsets Faust's
consumer tracks, minus committed offsets; ``metrics.ConsumerLagCollector``).
"""

from __future__ import annotations

from typing import Any

from faust.sensors.monitor import Monitor
from faust.types import AppT, ConsumerT

from npo_integration import metrics


class QuietMonitor(Monitor):
    """``Monitor`` whose per-message, per-event, per-table-access and per-send hooks are no-ops."""

    def on_message_in(self, *args: Any, **kwargs: Any) -> None:
        return None

    def on_stream_event_in(self, *args: Any, **kwargs: Any) -> None:
        return None

    def on_stream_event_out(self, *args: Any, **kwargs: Any) -> None:
        return None

    def on_message_out(self, *args: Any, **kwargs: Any) -> None:
        return None

    def on_table_get(self, *args: Any, **kwargs: Any) -> None:
        return None

    def on_table_set(self, *args: Any, **kwargs: Any) -> None:
        return None

    def on_table_del(self, *args: Any, **kwargs: Any) -> None:
        return None

    def on_send_initiated(self, *args: Any, **kwargs: Any) -> None:
        return None

    def on_send_completed(self, *args: Any, **kwargs: Any) -> None:
        return None

    def on_commit_completed(self, consumer: ConsumerT, state: Any) -> None:
        super().on_commit_completed(consumer, state)
        metrics.kafka_commit_seconds.observe(self.commit_latency[-1])

    def on_rebalance_start(self, app: AppT) -> dict[str, Any]:
        metrics.kafka_rebalances.inc()
        state: dict[str, Any] = super().on_rebalance_start(app)
        return state

    def on_rebalance_end(self, app: AppT, state: dict[str, Any]) -> None:
        super().on_rebalance_end(app, state)
        metrics.kafka_rebalance_seconds.observe(state["latency_end"])
