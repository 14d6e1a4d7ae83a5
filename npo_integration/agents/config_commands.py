"""Registry agent: applies config commands (from the topic, admin API, CLI,
config file) to the config table.

Commands are taken in batches and applied one after another within each
partition (a later command for an NPO sees the version the earlier one made);
their dead letters go out together.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from functools import partial

from faust import StreamT
from faust.types import EventT

from npo_integration import metrics
from npo_integration.agents.batches import apply_in_batches
from npo_integration.agents.dead_letters import dead_letter
from npo_integration.app import app, settings
from npo_integration.errors import NpoIntegrationError
from npo_integration.models.codec import key_of
from npo_integration.models.events import utc_now
from npo_integration.models.internal import ConfigCommand
from npo_integration.registry.config_input import decode_with_config
from npo_integration.registry.validation import check_config
from npo_integration.registry.versioning import file_may_change, next_version
from npo_integration.tables import npo_configs
from npo_integration.topics import config_commands
from npo_integration.worker_resources import config_submitter, secret_box

log = logging.getLogger(__name__)

BATCH = 500
"""Config commands taken together."""


def _apply(event: EventT[bytes]) -> Awaitable[None] | None:
    """Apply one command (in its partition's context); a refused one
    returns its dead letter to send."""
    try:
        sent = config_submitter.sent.take(event.value) if isinstance(event.value, bytes) else None
        if sent is not None:
            command = sent
        else:  # written by this version or an older one (rolling upgrade)
            command = decode_with_config(ConfigCommand, event.value, at=("config",))
        if command.config is not None and sent is None:  # a sent one was checked when made
            check_config(command.config, allow_private=settings.allow_private_npo_urls)
        current = npo_configs.current(command.npo_id)
        if command.source == "file" and not file_may_change(
            current, partial(npo_configs.version, command.npo_id)
        ):
            log.info(
                "NPO_CONFIG_FILE's config of %s not applied: changed otherwise since (now "
                "version %d, %s via %s); change it through the admin API or CLI",
                command.npo_id,
                current.version if current else 0,
                current.change if current else "-",
                current.source if current else "-",
            )
            return None
        version = next_version(current, command, utc_now(), secret_box)
    except NpoIntegrationError as exc:
        # The payload may hold secrets: keep only the key and the reason.
        return dead_letter(
            source_topic=config_commands.get_topic_name(),
            reason=str(exc),
            payload=None,
            key=key_of(event.key),
            npo_id=key_of(event.key),
        )
    if version is None:
        log.info("config of %s unchanged; no new version", command.npo_id)
        return None
    npo_configs.store(version)
    if version.change == "erase":
        forgotten = npo_configs.forget_history(version.npo_id, before=version.version)
        log.info("NPO %s erased: %d earlier version(s) deleted", version.npo_id, forgotten)
    metrics.config_changes.labels(version.source, version.change).inc()
    log.info(
        "config of %s is now version %d (%s via %s)",
        version.npo_id,
        version.version,
        version.change,
        version.source,
    )
    return None


@app.agent(config_commands)
async def apply_config_commands(stream: StreamT[bytes]) -> None:
    # the versions are durable before the commands are acknowledged
    await apply_in_batches(app, stream, size=BATCH, apply=_apply, durable=npo_configs.wait_acked)
