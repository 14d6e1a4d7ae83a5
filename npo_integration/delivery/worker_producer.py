"""The worker's one batch producer (``delivery/producer.py``): platform events, raw pages, batched changelogs.

Its own module, importing only the settings, so the tables that send their
changelog through it can import it while the app is still being built.
"""

from __future__ import annotations

from mode import Service

from npo_integration.app import app, settings
from npo_integration.delivery.producer import BatchProducer

batch_producer = BatchProducer(settings.bootstrap_servers, client_id=f"{settings.app_id}-batches")


@app.service
class BatchProducerService(Service):
    """Connects the batch producer when the worker starts and closes it when it stops."""

    async def on_start(self) -> None:
        await batch_producer.start()

    async def on_stop(self) -> None:
        await batch_producer.stop()
