"""Faust's own figures on /metrics: commit latency, rebalances and consumer lag, fed by the
service's monitor (sensors.QuietMonitor) into the service's registry."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace
from typing import Any

from faust.types import TP
from prometheus_client import CollectorRegistry, generate_latest

from npo_integration import metrics
from npo_integration.sensors import QuietMonitor


def sample(name: str, labels: dict[str, str] | None = None) -> float:
    return metrics.registry.get_sample_value(name, labels or {}) or 0.0


def test_commits_and_rebalances_are_counted_and_timed() -> None:
    monitor = QuietMonitor()
    commits, rebalances, ended = (
        sample("npo_kafka_commit_seconds_count"),
        sample("npo_kafka_rebalances_total"),
        sample("npo_kafka_rebalance_seconds_count"),
    )
    consumer: Any = SimpleNamespace()
    monitor.on_commit_completed(consumer, monitor.on_commit_initiated(consumer))
    app: Any = SimpleNamespace(rebalancing_count=1)
    monitor.on_rebalance_end(app, monitor.on_rebalance_start(app))
    assert sample("npo_kafka_commit_seconds_count") == commits + 1
    assert sample("npo_kafka_rebalances_total") == rebalances + 1
    assert sample("npo_kafka_rebalance_seconds_count") == ended + 1


def test_consumer_lag_is_end_minus_committed_by_topic() -> None:
    monitor = QuietMonitor()
    registry = CollectorRegistry()
    registry.register(metrics.ConsumerLagCollector(monitor))
    monitor.track_tp_end_offset(TP("raw", 0), 120)
    monitor.track_tp_end_offset(TP("raw", 1), 10)
    monitor.track_tp_end_offset(TP("fetch", 0), 5)  # nothing committed yet: no figure
    monitor.on_tp_commit({TP("raw", 0): 100, TP("raw", 1): 10})
    assert registry.get_sample_value("npo_kafka_consumer_lag", {"topic": "raw"}) == 20
    assert registry.get_sample_value("npo_kafka_consumer_lag", {"topic": "fetch"}) is None


def test_the_apps_monitor_feeds_the_served_registry() -> None:
    from npo_integration.app import app

    assert isinstance(app.monitor, QuietMonitor)
    assert "# TYPE npo_kafka_consumer_lag gauge" in generate_latest(metrics.registry).decode()


def test_the_enrolment_processors_counts_are_served_with_the_ignored_ones_by_reason() -> None:
    counts: Counter[str] = Counter({"confirmed": 3, "no_config": 1})
    registry = CollectorRegistry()
    registry.register(metrics.EventCountsCollector(counts))
    counts["ignored_enrolment_disabled"] += 2  # read at scrape time, not at registration
    assert registry.get_sample_value("npo_enrolment_events_total", {"event": "no_config"}) == 1
    assert registry.get_sample_value("npo_enrolment_events_total", {"event": "confirmed"}) == 3
    ignored = registry.get_sample_value(
        "npo_ignored_assignments_total", {"reason": "enrolment_disabled"}
    )
    assert ignored == 2
