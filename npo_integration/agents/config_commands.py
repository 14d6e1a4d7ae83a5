"""Registry agent: applies config commands (from the topic, admin API, CLI, config file) to the config table."""

from __future__ import annotations

import logging

from faust import StreamT

from npo_integration import metrics
from npo_integration.app import app, settings
from npo_integration.dead_letters import dead_letter
from npo_integration.errors import NpoIntegrationError
from npo_integration.models.codec import decode, key_of
from npo_integration.models.events import utc_now
from npo_integration.models.internal import ConfigCommand
from npo_integration.registry.validation import check_config
from npo_integration.registry.versioning import next_version
from npo_integration.runtime import secret_box
from npo_integration.tables import npo_configs
from npo_integration.topics import config_commands

log = logging.getLogger(__name__)


@app.agent(config_commands)
async def apply_config_commands(stream: StreamT[bytes]) -> None:
    async for event in stream.events():
        raw: bytes = event.value
        try:
            command = decode(ConfigCommand, raw)
            if command.config is not None:
                check_config(command.config, allow_private=settings.allow_private_npo_urls)
            version = next_version(
                npo_configs.current(command.npo_id), command, utc_now(), secret_box
            )
        except NpoIntegrationError as exc:
            # The payload may hold secrets: keep only the key and the reason.
            await dead_letter(
                source_topic=config_commands.get_topic_name(),
                reason=str(exc),
                payload=None,
                key=key_of(event.key),
                npo_id=key_of(event.key),
            )
            continue
        if version is None:
            log.info("config of %s unchanged; no new version", command.npo_id)
            continue
        npo_configs.store(version)
        metrics.config_changes.labels(version.source, version.change).inc()
        log.info(
            "config of %s is now version %d (%s via %s)",
            version.npo_id,
            version.version,
            version.change,
            version.source,
        )
