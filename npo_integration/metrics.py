"""Prometheus metrics, served at ``GET /metrics``.

Labels stay low-cardinality (stream, outcome, source): with up to 100,000 NPOs
an npo_id label would swamp Prometheus. Per-NPO detail is in the admin views.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from npo_integration.http import NpoHttpClient
    from npo_integration.transforms.invoke import PluginRunner

registry = CollectorRegistry(auto_describe=True)

pulls = Counter(
    "npo_pulls", "Pulls of an NPO stream, by outcome", ["stream", "outcome"], registry=registry
)
raw_records = Counter(
    "npo_raw_records", "Records fetched and put on the raw topic", ["stream"], registry=registry
)
dead_letters = Counter(
    "npo_dead_letters", "Messages dead-lettered, by source topic", ["source"], registry=registry
)
config_changes = Counter(
    "npo_config_changes",
    "NPO config versions stored, by source and change",
    ["source", "change"],
    registry=registry,
)
platform_events = Counter(
    "npo_platform_events",
    "Events published to the platform (acknowledged), by topic",
    ["topic"],
    registry=registry,
)
ingested_records = Counter(
    "npo_ingested_records",
    "Raw records ingested, by outcome (published, unchanged, skipped, stale, failed, ...)",
    ["outcome"],
    registry=registry,
)
removals = Counter(
    "npo_removals",
    "Records gone from a complete sweep, by stream and outcome (removed, held)",
    ["stream", "outcome"],
    registry=registry,
)
ignored_assignments = Counter(
    "npo_ignored_assignments",
    "Assignment events not enrolled, by reason",
    ["reason"],
    registry=registry,
)
timer_errors = Counter(
    "npo_timer_errors",
    "Failures inside a timer's tick (logged; the next tick tries again)",
    ["timer"],
    registry=registry,
)


class RuntimeCollector(Collector):
    """Gauges read at scrape time from the worker's HTTP client and plug-in runner (registered by
    ``worker_resources``, which builds them)."""

    def __init__(self, http_client: NpoHttpClient, plugin_runner: PluginRunner) -> None:
        self._http_client = http_client
        self._plugin_runner = plugin_runner

    def collect(self) -> Iterator[GaugeMetricFamily]:
        http_client, plugin_runner = self._http_client, self._plugin_runner
        circuits = GaugeMetricFamily(
            "npo_circuits", "NPO circuit breakers by state", labels=["state"]
        )
        for state, count in http_client.circuit_counts().items():
            circuits.add_metric([state], count)
        yield circuits
        yield GaugeMetricFamily(
            "npo_transform_hung_calls",
            "Plug-in calls that timed out and still hold a thread",
            value=plugin_runner.hung,
        )
        yield GaugeMetricFamily(
            "npo_transform_timeouts",
            "Plug-in calls that timed out since start",
            value=plugin_runner.timeouts_total,
        )
