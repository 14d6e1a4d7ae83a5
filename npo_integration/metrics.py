"""Prometheus metrics, served at ``GET /metrics``.

Labels stay low-cardinality (stream, outcome, source): with up to 100,000 NPOs
an npo_id label would swamp Prometheus. Per-NPO detail is in the admin views.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from typing import TYPE_CHECKING, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from faust.types import TP

    from npo_integration.http import NpoHttpClient
    from npo_integration.transforms.invoke import PluginRunner

registry = CollectorRegistry(auto_describe=True)

pulls = Counter(
    "npo_pulls", "Pulls of an NPO stream, by outcome", ["stream", "outcome"], registry=registry
)
raw_records = Counter(
    "npo_raw_records", "Records fetched and put on the raw topic", ["stream"], registry=registry
)
oauth_token_requests = Counter(
    "npo_oauth_token_requests",
    "OAuth2 authorization-code token requests (grant_type: authorization_code, refresh_token)",
    ["grant_type", "outcome"],
    registry=registry,
)
oauth_grants_revoked = Counter(
    "npo_oauth_grants_revoked",
    "OAuth2 grants the NPO revoked (invalid_grant): an operator must consent again; the NPO is "
    "named by `npos status`",
    registry=registry,
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
raw_records_age_seconds = Gauge(
    "npo_raw_records_age_seconds",
    "Age (broker timestamp to now) of the oldest raw record of the last batch ingested: how far"
    " ingestion is behind in time. Near the raw topic's retention, records expire unread",
    registry=registry,
)
raw_records_expired = Counter(
    "npo_raw_records_expired",
    "Raw-records offsets deleted by retention before ingestion read them, by partition; each gap"
    " starts a full refresh of the partition's NPO streams (agents/raw_expiry.py)",
    ["partition"],
    registry=registry,
)
raw_records_retention_seconds = Gauge(
    "npo_raw_records_retention_seconds",
    "The raw-records topic's retention (NPO_RAW_RECORDS_RETENTION_HOURS)",
    registry=registry,
)
removals = Counter(
    "npo_removals",
    "Records gone from a complete sweep, by stream and outcome (removed, held)",
    ["stream", "outcome"],
    registry=registry,
)
schema_drift = Counter(
    "npo_schema_drift",
    "New changes of shape of an NPO stream's records (missing, type, new_field); which NPO and "
    "its first record: /admin/npos/{id}/status",
    ["kind"],
    registry=registry,
)
state_purged = Counter(
    "npo_state_purged",
    "Table entries of deactivated NPOs deleted by the state sweep (tombstones), by table",
    ["table"],
    registry=registry,
)
timer_errors = Counter(
    "npo_timer_errors",
    "Failures inside a timer's tick (logged; the next tick tries again)",
    ["timer"],
    registry=registry,
)

npo_http_seconds = Histogram(
    "npo_http_request_seconds",
    "One try of a call to an NPO API (send to answer, redirects and an auth refresh included;"
    " rate-limit waits not), by method and status class (2xx..5xx; error: no usable answer)",
    ["method", "status"],
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
    registry=registry,
)
pull_seconds = Histogram(
    "npo_pull_seconds",
    "One pull of an NPO stream, every page walked and published, by stream and outcome",
    ["stream", "outcome"],
    buckets=(0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0),
    registry=registry,
)

# Faust's own sensors (sensors.QuietMonitor feeds them; the lag is read at scrape time).
kafka_commit_seconds = Histogram(
    "npo_kafka_commit_seconds",
    "Offset commits of the worker's consumer",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=registry,
)
kafka_rebalances = Counter(
    "npo_kafka_rebalances", "Consumer group rebalances this worker took part in", registry=registry
)
kafka_rebalance_seconds = Histogram(
    "npo_kafka_rebalance_seconds",
    "Rebalances from start to the end of table recovery",
    buckets=(0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0),
    registry=registry,
)


class OffsetSource(Protocol):
    """What Faust's ``Monitor`` keeps per partition: the end offset seen by the consumer and the
    offset last committed."""

    tp_end_offsets: MutableMapping[TP, int]
    tp_committed_offsets: MutableMapping[TP, int]


class ConsumerLagCollector(Collector):
    """``npo_kafka_consumer_lag``: messages not yet committed, by topic (summed over this worker's
    partitions: a partition label would multiply the series by the partition count)."""

    def __init__(self, offsets: OffsetSource) -> None:
        self._offsets = offsets

    def collect(self) -> Iterator[GaugeMetricFamily]:
        committed = dict(self._offsets.tp_committed_offsets)
        lag: dict[str, int] = {}
        for tp, end in list(self._offsets.tp_end_offsets.items()):
            if tp in committed:
                lag[tp.topic] = lag.get(tp.topic, 0) + max(0, end - committed[tp])
        family = GaugeMetricFamily(
            "npo_kafka_consumer_lag",
            "Messages behind the end of each topic on this worker's partitions (end - committed)",
            labels=["topic"],
        )
        for topic, behind in sorted(lag.items()):
            family.add_metric([topic], behind)
        yield family


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


IGNORED = "ignored_"
"""The processor's counts of inputs it did not act on start with this (``ignored_erased``, ...)."""


class EventCountsCollector(Collector):
    """``npo_enrolment_events_total``: what the push path did with each input, by event (ignored and
    why, duplicates, stale commands, retries, outcomes), and ``npo_ignored_assignments_total``
    (the ``ignored_*`` ones, by reason), read at scrape time from the processor's own counts,
    so the hot path pays nothing for the export."""

    def __init__(self, counts: Mapping[str, int]) -> None:
        self._counts = counts

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "npo_enrolment_events",
            "Enrolment inputs and outcomes on this worker since start, by event",
            labels=["event"],
        )
        ignored = CounterMetricFamily(
            "npo_ignored_assignments",
            "Assignment events not enrolled, by reason (this worker, since start)",
            labels=["reason"],
        )
        for event, count in sorted(dict(self._counts).items()):
            family.add_metric([event], count)
            if event.startswith(IGNORED):
                ignored.add_metric([event.removeprefix(IGNORED)], count)
        yield family
        yield ignored
