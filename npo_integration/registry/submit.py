"""The one way a config change enters the registry: validated, sealed, sent as a command.

The admin API, the CLI, the start-up config file and the npo-assessed agent
all call the worker's ``ConfigSubmitter`` (``worker_resources.config_submitter``), so every
source gets the same checks and the same sealing.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Container, Sequence

from npo_integration.delivery.kafka_log import KafkaOutputLog
from npo_integration.delivery.once import Addressed
from npo_integration.delivery.producer import BatchProducer
from npo_integration.errors import ConfigError
from npo_integration.models.internal import ConfigCommand
from npo_integration.models.npo_config import ConfigSource, NpoIntegrationConfig
from npo_integration.partitioning import partition_for
from npo_integration.registry.sealed_config import seal_config
from npo_integration.registry.validation import check_config
from npo_integration.sealing import SecretBox
from npo_integration.transforms.registry import PluginRegistry

MAX_COMMAND_BYTES = 512 * 1024
"""A larger config is refused when submitted: its command must fit in one Kafka message (1 MB),
and a command the broker refuses would hold the npo-assessed stream, which sends until done."""
SENT_KEPT = 8_192
"""Commands kept between their send and their apply on this worker (a few batches' worth)."""


class SentCommands:
    """The commands this worker sent, by their bytes, until it applies them.

    A config is validated in full when its command is made; the config agent reading the command
    back from the topic would validate it in full again, the dearest step of applying it (bench/
    registry.py). For a command this worker sent, the agent takes the object instead: the same
    bytes decode to an equal command. Another worker's commands, or one evicted here, are decoded.
    """

    def __init__(self, size: int = SENT_KEPT) -> None:
        self._size = size
        self._by_bytes: OrderedDict[bytes, ConfigCommand] = OrderedDict()

    def remember(self, value: bytes, command: ConfigCommand) -> None:
        self._by_bytes[value] = command
        if len(self._by_bytes) > self._size:
            self._by_bytes.popitem(last=False)

    def take(self, value: bytes) -> ConfigCommand | None:
        """The command sent as ``value`` (once: a redelivered message is decoded), else ``None``."""
        return self._by_bytes.pop(value, None)


def deactivate_command(npo_id: str, source: ConfigSource) -> ConfigCommand:
    return ConfigCommand(event_type="npo_config.deactivate", npo_id=npo_id, source=source)


def pause_command(npo_id: str, source: ConfigSource) -> ConfigCommand:
    """Stop pulls and enrolments for the NPO, keeping its config and secrets (``resume`` undoes)."""
    return ConfigCommand(event_type="npo_config.pause", npo_id=npo_id, source=source)


def resume_command(npo_id: str, source: ConfigSource) -> ConfigCommand:
    """Make a paused (or deactivated) NPO active again with its stored config and secrets."""
    return ConfigCommand(event_type="npo_config.resume", npo_id=npo_id, source=source)


def erase_command(npo_id: str, source: ConfigSource) -> ConfigCommand:
    """The NPO leaves the platform: inactive, its secrets dropped, its state purged at once
    (``tables/state_purge.py``). Only a new config (upsert) brings it back."""
    return ConfigCommand(event_type="npo_config.erase", npo_id=npo_id, source=source)


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
        self.sent = SentCommands()

    def upsert_command(self, config: NpoIntegrationConfig, source: ConfigSource) -> ConfigCommand:
        """Validate and seal; raises ConfigError naming the field when
        the config may not be stored."""
        check_config(config, allow_private=self._allow_private)
        # an unknown or malformed plug-in is refused here, not at first use
        for each in config.all_sources():
            self._plugin_registry.load(each)
        command = ConfigCommand(
            event_type="npo_config.upsert",
            npo_id=config.npo_id,
            source=source,
            config=seal_config(config, self._secret_box),
        )
        size = len(command.encoded())
        if size > MAX_COMMAND_BYTES:
            raise ConfigError(
                f"config of {size} bytes (sealed) is larger than the {MAX_COMMAND_BYTES} "
                "bytes a config may have"
            )
        return command

    async def send_command(self, command: ConfigCommand) -> None:
        """Send and wait until the broker has it, so a caller's 202 means the change is durable."""
        await self.send_commands([command])

    async def send_commands(
        self, commands: Sequence[ConfigCommand], *, applied_here: Container[int] | None = None
    ) -> None:
        """Send many at once (keyed by npo_id) and wait until the broker
        has them all; raises if not.

        Commands are remembered (``sent``) for the config agent of this worker, only those bound
        for ``applied_here`` (the partitions of the topic it owns) when the sender knows them."""
        if not commands:
            return
        partitions = await self._output_log.partitions(self._topic)
        messages = []
        for command in commands:
            value = command.encoded()
            partition = partition_for(command.npo_id, partitions)
            if applied_here is None or partition in applied_here:
                self.sent.remember(value, command)
            messages.append(Addressed(self._topic, partition, command.npo_id.encode(), value))
        await self._producer.send_all_or_raise(messages)
