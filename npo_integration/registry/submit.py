"""The one way a config change enters the registry: validated, sealed, sent as a command.

The admin API, the CLI, the start-up config file and the npo-assessed agent
all call these, so every source gets the same checks and the same sealing.
"""

from __future__ import annotations

from collections.abc import Sequence

from npo_integration.app import settings
from npo_integration.delivery.once import Addressed
from npo_integration.models.codec import encode
from npo_integration.models.internal import ConfigCommand
from npo_integration.models.npo_config import ConfigSource, NpoIntegrationConfig
from npo_integration.registry.sealed_config import seal_config
from npo_integration.registry.validation import check_config
from npo_integration.partitioning import partition_for
from npo_integration.delivery.worker_producer import batch_producer
from npo_integration.runtime import output_log, plugin_registry, secret_box
from npo_integration.topics import config_commands


def upsert_command(config: NpoIntegrationConfig, source: ConfigSource) -> ConfigCommand:
    """Validate and seal; raises ConfigError naming the field when the config may not be stored."""
    check_config(config, allow_private=settings.allow_private_npo_urls)
    plugin_registry.load(config)  # an unknown or malformed plug-in is refused here, not at first use
    return ConfigCommand(
        event_type="npo_config.upsert",
        npo_id=config.npo_id,
        source=source,
        config=seal_config(config, secret_box),
    )


def deactivate_command(npo_id: str, source: ConfigSource) -> ConfigCommand:
    return ConfigCommand(event_type="npo_config.deactivate", npo_id=npo_id, source=source)


def reseal_command(npo_id: str, source: ConfigSource) -> ConfigCommand:
    """Re-encrypt the NPO's secrets with the primary key (after a key rotation)."""
    return ConfigCommand(event_type="npo_config.reseal", npo_id=npo_id, source=source)


async def send_command(command: ConfigCommand) -> None:
    """Send and wait until the broker has it, so a caller's 202 means the change is durable."""
    await send_commands([command])


async def send_commands(commands: Sequence[ConfigCommand]) -> None:
    """Send many at once (keyed by npo_id) and wait until the broker has them all; raises if it has not."""
    if not commands:
        return
    topic = config_commands.get_topic_name()
    partitions = await output_log.partitions(topic)
    await batch_producer.send_all_or_raise(
        [
            Addressed(topic, partition_for(c.npo_id, partitions), c.npo_id.encode(), encode(c))
            for c in commands
        ]
    )
