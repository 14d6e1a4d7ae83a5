"""The one way a config change enters the registry: validated, sealed, sent as a command.

The admin API, the CLI, the start-up config file and the npo-assessed agent
all call the worker's ``ConfigSubmitter`` (``worker_resources.config_submitter``), so every
source gets the same checks and the same sealing.
"""

from __future__ import annotations

from collections.abc import Sequence

from npo_integration.delivery.kafka_log import KafkaOutputLog
from npo_integration.delivery.once import Addressed
from npo_integration.delivery.producer import BatchProducer
from npo_integration.models.codec import encode
from npo_integration.models.internal import ConfigCommand
from npo_integration.models.npo_config import ConfigSource, NpoIntegrationConfig
from npo_integration.partitioning import partition_for
from npo_integration.registry.sealed_config import seal_config
from npo_integration.registry.validation import check_config
from npo_integration.sealing import SecretBox
from npo_integration.transforms.registry import PluginRegistry


def deactivate_command(npo_id: str, source: ConfigSource) -> ConfigCommand:
    return ConfigCommand(event_type="npo_config.deactivate", npo_id=npo_id, source=source)


def reseal_command(npo_id: str, source: ConfigSource) -> ConfigCommand:
    """Re-encrypt the NPO's secrets with the primary key (after a key rotation)."""
    return ConfigCommand(event_type="npo_config.reseal", npo_id=npo_id, source=source)


class ConfigSubmitter:
    """Builds upsert commands (checked and sealed) and sends commands
    to the config-commands topic."""

    def __init__(
        self,
        *,
        topic: str,
        allow_private: bool,
        plugin_registry: PluginRegistry,
        secret_box: SecretBox,
        output_log: KafkaOutputLog,
        producer: BatchProducer,
    ) -> None:
        self._topic = topic
        self._allow_private = allow_private
        self._plugin_registry = plugin_registry
        self._secret_box = secret_box
        self._output_log = output_log
        self._producer = producer

    def upsert_command(self, config: NpoIntegrationConfig, source: ConfigSource) -> ConfigCommand:
        """Validate and seal; raises ConfigError naming the field when
        the config may not be stored."""
        check_config(config, allow_private=self._allow_private)
        # an unknown or malformed plug-in is refused here, not at first use
        self._plugin_registry.load(config)
        return ConfigCommand(
            event_type="npo_config.upsert",
            npo_id=config.npo_id,
            source=source,
            config=seal_config(config, self._secret_box),
        )

    async def send_command(self, command: ConfigCommand) -> None:
        """Send and wait until the broker has it, so a caller's 202 means the change is durable."""
        await self.send_commands([command])

    async def send_commands(self, commands: Sequence[ConfigCommand]) -> None:
        """Send many at once (keyed by npo_id) and wait until the broker
        has them all; raises if not."""
        if not commands:
            return
        partitions = await self._output_log.partitions(self._topic)
        await self._producer.send_all_or_raise(
            [
                Addressed(
                    self._topic, partition_for(c.npo_id, partitions), c.npo_id.encode(), encode(c)
                )
                for c in commands
            ]
        )
