"""Per-worker resources shared by agents: the secret box, the one HTTP client, the plug-in registry
and runner, the batch producer, the config submitter, and the services that open and close them."""

from __future__ import annotations

import gc
import uuid

from mode import Service

from npo_integration import kafka_auth, metrics
from npo_integration.app import app, settings
from npo_integration.delivery.kafka_log import KafkaOutputLog, isolation_for
from npo_integration.delivery.producer import BatchProducer
from npo_integration.http import NpoHttpClient
from npo_integration.http.npo_state import CallCaps
from npo_integration.registry.submit import ConfigSubmitter
from npo_integration.sealing import SecretBox
from npo_integration.transforms.invoke import PluginRunner
from npo_integration.transforms.registry import PluginRegistry

# The worker allocates many short-lived objects (records, models, futures) that are freed by
# reference counting; CPython's default gen-0 threshold (700) runs the cycle collector every few
# hundred of them and its full collections walk the whole heap. Rarer collections cut the
# ingestion path's CPU by about a sixth (bench/ingest.py, profiled with py-spy); what is alive
# at start is frozen out of them.
GC_THRESHOLDS = (100_000, 50, 100)
gc.set_threshold(*GC_THRESHOLDS)


@app.task
async def freeze_startup_objects() -> None:
    """Modules, settings and configs loaded at start never become garbage:
    keep them out of collections."""
    gc.freeze()


# This worker process, as opposed to an earlier incarnation with the
# same data dir (see pull/schedule).
worker_id = uuid.uuid4().hex
secret_box = SecretBox.from_setting(settings.secrets_keys)
call_caps = CallCaps(
    timeout_seconds=settings.http_max_call_timeout_seconds,
    retry_attempts=settings.http_max_retry_attempts,
    retry_backoff_seconds=settings.http_max_retry_backoff_seconds,
    failure_threshold=settings.http_max_circuit_failure_threshold,
)
http_client = NpoHttpClient(
    secret_box,
    allow_private=settings.allow_private_npo_urls,
    pool_limit=settings.http_max_connections,
    pool_limit_per_host=settings.http_max_connections_per_host,
    caps=call_caps,
)


@app.service
class HttpClientService(Service):
    """Opens the shared connection pool when the worker starts and closes it when it stops."""

    async def on_start(self) -> None:
        await http_client.start()

    async def on_stop(self) -> None:
        await http_client.close()


# TLS/SASL of the service's own Kafka clients: what Faust's clients use (kafka_auth).
kafka_security = kafka_auth.client_options(app.conf.broker_credentials)

plugin_registry = PluginRegistry()
plugin_runner = PluginRunner(max_workers=settings.transform_workers)

# A plain consumer on the output topics (end offsets, the crash-window scan of delivery/once.py).
output_log = KafkaOutputLog(
    settings.bootstrap_servers,
    isolation_level=isolation_for(settings.processing_guarantee),
    client_id=f"{settings.app_id}-output-log",
    client_options=kafka_security,
)


@app.service
class OutputLogService(Service):
    """Connects the output-log consumer when the worker starts and closes it when it stops."""

    async def on_start(self) -> None:
        await output_log.start()

    async def on_stop(self) -> None:
        await output_log.stop()


# The worker's one batch producer (delivery/producer.py): platform events,
# raw pages, batched changelogs.
batch_producer = BatchProducer(
    settings.bootstrap_servers, client_id=f"{settings.app_id}-batches", **kafka_security
)


@app.service
class BatchProducerService(Service):
    """Connects the batch producer when the worker starts and closes it when it stops."""

    async def on_start(self) -> None:
        await batch_producer.start()

    async def on_stop(self) -> None:
        await batch_producer.stop()


config_submitter = ConfigSubmitter(
    topic=settings.topic_config_commands,
    allow_private=settings.allow_private_npo_urls,
    plugin_registry=plugin_registry,
    secret_box=secret_box,
    output_log=output_log,
    producer=batch_producer,
)

metrics.registry.register(metrics.RuntimeCollector(http_client, plugin_runner))
