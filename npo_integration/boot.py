"""Starting a worker: every topic declared, and visible in the cluster
metadata, before the consumer joins.

Faust declares an agent's topics right before it subscribes, but the broker may
answer a topic's creation before its metadata shows the topic (seen here on a
KRaft broker busy deleting other topics). The group leader then assigns without
it ("Ignoring missing topic") and the worker consumes nothing from that topic
until its metadata refresh, minutes later. So a ``TopicSetup`` service runs
after the producer and before the consumer: it declares every topic and waits
until the metadata shows each with its partitions.

It also refuses to go on when an existing topic has another partition count
than ``NPO_TOPIC_PARTITIONS``: a key's partition is its hash modulo the count, so
a different count would move keys away from the table state on their partition,
silently. The count is a decision made once per deployment (docs/deployment.md).

Last, before anything may read a table, it checks that the data directory's
table stores belong to the cluster it runs against (``local_state.py``): a
directory that outlived its broker stops the worker with one line instead of
Faust's ``ConsistencyError`` in the middle of recovery.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from aiokafka.protocol.metadata import MetadataRequest
from faust.app.base import BootStrategy
from mode import Service
from mode.utils.objects import cached_property

from npo_integration import local_state

log = logging.getLogger(__name__)

topics_ready = asyncio.Event()
"""Set once every topic of the service exists and is visible: senders and timers wait for it."""

VISIBLE_TIMEOUT_SECONDS = 60.0


class TopicSetup(Service):
    """Declares the service's topics and waits until the cluster metadata shows them."""

    def __init__(self, app: Any, **kwargs: Any) -> None:
        self.app = app
        self.data_dir_lock: int | None = None
        super().__init__(**kwargs)

    async def on_start(self) -> None:
        from npo_integration.topics import ALL_TOPICS  # the topics module needs the app built

        data_dir = Path(self.app.conf.datadir)
        try:  # held until the process ends: reset-local-state refuses meanwhile
            self.data_dir_lock = local_state.lock(data_dir)
        except OSError as exc:
            self._stop_with(f"npo-integration: cannot use data directory {data_dir}: {exc}")
        except local_state.DataDirInUse as exc:
            self._stop_with(
                f"npo-integration: {exc}; stop it first, or give this worker its own NPO_DATA_DIR"
            )

        # The tables' changelogs too: a table write checks its changelog's partition count in
        # the consumer's metadata, which holds 0 for a changelog created after the join.
        # All at once: one by one, the 30 creations took 2 s of every start.
        changelogs = [table.changelog_topic for table in self.app.tables.values()]
        await asyncio.gather(*(topic.maybe_declare() for topic in [*ALL_TOPICS, *changelogs]))
        names = [name for topic in ALL_TOPICS for name in topic.topics]
        await self._until_visible([*names, *(c.get_topic_name() for c in changelogs)])
        await self._refuse_other_partition_counts(names)
        await self._own_local_state(data_dir)
        topics_ready.set()
        log.info("topics declared and visible: %s", ", ".join(names))

    async def _until_visible(self, names: list[str]) -> None:
        client = self.app.producer._ensure_producer().client
        deadline = time.monotonic() + VISIBLE_TIMEOUT_SECONDS
        while True:
            await client.force_metadata_update()
            missing = [n for n in names if not client.cluster.partitions_for_topic(n)]
            if not missing:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"topics still not in the cluster metadata after declaring them: {missing}"
                )
            await asyncio.sleep(0.2)

    async def _refuse_other_partition_counts(self, names: list[str]) -> None:
        """Stop the worker with one line if a topic, or an existing table changelog, was created
        with another partition count than the setting. Faust's own declare keeps an existing
        topic as it is, so without this check the worker would run on the other count."""
        expected = self.app.conf.topic_partitions
        cluster = await self.app.producer._ensure_producer().client.fetch_all_metadata()
        changelogs = [table.changelog_topic.get_topic_name() for table in self.app.tables.values()]
        for name in [*names, *changelogs]:
            partitions = cluster.partitions_for_topic(name)
            if partitions and len(partitions) != expected:
                self._stop_with(partition_mismatch(name, len(partitions), expected))

    async def _own_local_state(self, data_dir: Path) -> None:
        """Stop with one line when the table stores belong to another cluster, or are ahead of
        their changelogs; remove them first when the setting says so; then record the cluster."""
        from npo_integration.delivery.kafka_log import KafkaOutputLog
        from npo_integration.kafka_auth import client_options
        from npo_integration.settings import get_settings

        settings = get_settings()
        cluster_id = await self._cluster_id()
        # The high watermark (read_uncommitted): every changelog message written, committed or not,
        # lies below it, so a store at or past it is ahead whatever the processing guarantee.
        changelog_ends = KafkaOutputLog(
            settings.bootstrap_servers,
            isolation_level="read_uncommitted",
            client_id=f"{settings.app_id}-local-state",
            client_options=client_options(self.app.conf.broker_credentials),
        )
        try:
            verdict = await local_state.check(
                data_dir,
                cluster_id=cluster_id,
                broker=settings.broker_url,
                changelogs={
                    table.name: table.changelog_topic.get_topic_name()
                    for table in self.app.tables.values()
                },
                end_offsets=changelog_ends.end_offsets,
                reset_on_cluster_change=settings.reset_local_state_on_cluster_change,
            )
        finally:
            await changelog_ends.stop()
        if verdict.stop_line:
            self._stop_with(verdict.stop_line)
        if verdict.reset:
            removed = local_state.remove_table_stores(data_dir)
            log.warning(
                "%s; %s is set: removed %d table store(s) (%s), the tables are rebuilt from "
                "this cluster's changelogs",
                verdict.reason,
                local_state.AUTO_RESET_SETTING,
                len(removed),
                ", ".join(str(p) for p in removed),
            )
        owner = local_state.DataDirOwner(cluster_id=cluster_id, broker_url=settings.broker_url)
        if local_state.read_owner(data_dir) != owner:
            try:
                local_state.write_owner(data_dir, owner)
            except OSError as exc:
                self._stop_with(
                    f"npo-integration: cannot write to data directory {data_dir}: {exc}"
                )

    async def _cluster_id(self) -> str:
        """The id of the cluster the producer is connected to (Kafka's Metadata response)."""
        client = self.app.producer._ensure_producer().client
        response = await client.send(client.get_random_node(), MetadataRequest([]))
        cluster_id = getattr(response, "cluster_id", None)
        return str(cluster_id) if cluster_id else "unknown"

    @staticmethod
    def _stop_with(line: str) -> None:
        """Stop the worker with ``line`` on stderr and no traceback."""
        log.error("%s", line)
        sys.exit(line)


def partition_mismatch(topic: str, found: int, expected: int) -> str:
    """The one line a worker stops with when a topic disagrees with NPO_TOPIC_PARTITIONS."""
    return (
        f"npo-integration: topic {topic} has {found} partitions but NPO_TOPIC_PARTITIONS is "
        f"{expected}; a partition count cannot change under existing keys: set "
        f"NPO_TOPIC_PARTITIONS={found} or migrate to new topics (docs/deployment.md)"
    )


class TopicsFirst(BootStrategy):
    """Faust's server start order with ``TopicSetup`` between the producer and the consumer."""

    @cached_property
    def _topic_setup(self) -> TopicSetup:
        return TopicSetup(self.app, loop=self.app.loop, beacon=self.app.beacon)

    def server(self) -> Iterable[Any]:
        return self._chain(
            self.sensors(),
            self.kafka_producer(),
            [self._topic_setup],
            self.web_server(),
            self.kafka_consumer(),
            self.agents(),
            self.kafka_conductor(),
            self.tables(),
        )
