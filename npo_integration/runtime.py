"""Per-worker resources shared by agents: the secret box, the one HTTP client, the plug-in registry and runner."""

from __future__ import annotations

import uuid

from mode import Service

from npo_integration.app import app, settings
from npo_integration.delivery.kafka_log import KafkaOutputLog, isolation_for
from npo_integration.http import NpoHttpClient
from npo_integration.sealing import SecretBox
from npo_integration.transforms.invoke import PluginRunner
from npo_integration.transforms.registry import PluginRegistry

# This worker process, as opposed to an earlier incarnation with the same data dir (see pull/schedule).
worker_id = uuid.uuid4().hex
secret_box = SecretBox.from_setting(settings.secrets_keys)
http_client = NpoHttpClient(secret_box, allow_private=settings.allow_private_npo_urls)


@app.service
class HttpClientService(Service):
    """Opens the shared connection pool when the worker starts and closes it when it stops."""

    async def on_start(self) -> None:
        await http_client.start()

    async def on_stop(self) -> None:
        await http_client.close()


plugin_registry = PluginRegistry()
plugin_runner = PluginRunner(max_workers=settings.transform_workers)

# A plain consumer on the output topics (end offsets, the crash-window scan of delivery/once.py).
output_log = KafkaOutputLog(
    settings.bootstrap_servers,
    isolation_level=isolation_for(settings.processing_guarantee),
    client_id=f"{settings.app_id}-output-log",
)


@app.service
class OutputLogService(Service):
    """Connects the output-log consumer when the worker starts and closes it when it stops."""

    async def on_start(self) -> None:
        await output_log.start()

    async def on_stop(self) -> None:
        await output_log.stop()
