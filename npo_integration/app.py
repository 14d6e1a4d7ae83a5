"""The Faust application: settings in, app out. ``faust -A npo_integration.app worker`` starts it.

Importing this module reads the settings once; a bad setting stops the process
here with one line naming it, before any connection is made.
"""

from __future__ import annotations

import gc
import logging
import sys

import faust
from faust.types.auth import CredentialsT
from mode.utils.objects import cached_property

from npo_integration import faust_patches, kafka_auth, log_format, metrics, otel
from npo_integration.boot import TopicsFirst
from npo_integration.errors import ConfigError
from npo_integration.sensors import QuietMonitor
from npo_integration.settings import Settings, get_settings
from npo_integration.web_server import OwnViewsOnly


def _load_settings() -> tuple[Settings, CredentialsT | None]:
    try:
        settings = get_settings()
        return settings, kafka_auth.broker_credentials(settings)
    except ConfigError as exc:
        sys.exit(f"npo-integration: {exc}")


settings, broker_credentials = _load_settings()
logging.getLogger("npo_integration").setLevel(settings.log_level.upper())
otel.start_exporting()  # only with OTEL_EXPORTER_OTLP_ENDPOINT set; before any NPO session opens


class NpoApp(faust.App):
    """``faust.App`` that declares its topics before its consumer joins the group (``boot.py``)
    and serves only its own views (``web_server.py``)."""

    BootStrategy = TopicsFirst

    @cached_property
    def web(self) -> OwnViewsOnly:
        return OwnViewsOnly(self)

    revoking_generation: int | None = None
    """The consumer generation whose partitions the rebalance under way revokes: set as the
    rebalance starts, before Faust forgets their acknowledgements (``ownership.py``)."""

    def on_rebalance_start(self) -> None:
        self.revoking_generation = self.consumer_generation_id
        super().on_rebalance_start()


app = NpoApp(
    settings.app_id,
    broker=settings.broker_url,
    # TLS/SASL of Faust's consumer, producer and topic admin; the service's own
    # clients take the same (kafka_auth.client_options(app.conf.broker_credentials)).
    broker_credentials=broker_credentials,
    store="rocksdb://",
    datadir=str(settings.data_dir),
    web_host=settings.web_host,
    web_port=settings.web_port,
    web_bind=settings.web_host,
    canonical_url=settings.web_canonical_url or f"http://{settings.web_host}:{settings.web_port}",
    topic_partitions=settings.topic_partitions,
    topic_replication_factor=settings.topic_replication,
    topic_allow_declare=True,
    processing_guarantee=settings.processing_guarantee,
    autodiscover=False,
    # A restarted worker rejoins quickly; the broker is single-node in tests.
    broker_session_timeout=10.0,
    broker_heartbeat_interval=1.0,
    # A revocation waits up to hand_over_seconds for enrolment calls in flight (agents/enrol.py);
    # the broker waits this long for every member to rejoin (below the 90 s request timeout).
    broker_rebalance_timeout=max(60.0, settings.hand_over_seconds + 20.0),
    stream_wait_empty=False,
    consumer_auto_offset_reset="earliest",
    table_standby_replicas=settings.table_standby_replicas,
    logging_config=log_format.logging_config(settings.log_format),
    monitor=QuietMonitor(),
)

metrics.registry.register(metrics.ConsumerLagCollector(app.monitor))
metrics.raw_records_retention_seconds.set(settings.raw_records_retention_seconds)

# Faust fixes first (they apply to every agent), then register agents, tables, timers and views.
faust_patches.keep_queues_on_resume(app)
faust_patches.bound_table_stores(
    settings.rocksdb_memtable_mb * 1024 * 1024, settings.rocksdb_block_cache_mb * 1024 * 1024
)
faust_patches.bound_fetch_wait(settings.consumer_fetch_wait_ms)
from npo_integration import agents, tables, timers, views  # noqa: E402,F401

# What is imported and built so far lives as long as the worker: collected once, then frozen, so
# no later collection walks it again (Faust's per-table gc.collect() at every rebalance did
# that by accident until faust_patches 6).
gc.collect()
gc.freeze()
