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
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Iterable
from typing import Any

from faust.app.base import BootStrategy
from mode import Service
from mode.utils.objects import cached_property

log = logging.getLogger(__name__)

topics_ready = asyncio.Event()
"""Set once every topic of the service exists and is visible: senders and timers wait for it."""

VISIBLE_TIMEOUT_SECONDS = 60.0


class TopicSetup(Service):
    """Declares the service's topics and waits until the cluster metadata shows them."""

    def __init__(self, app: Any, **kwargs: Any) -> None:
        self.app = app
        super().__init__(**kwargs)

    async def on_start(self) -> None:
        from npo_integration.topics import ALL_TOPICS  # the topics module needs the app built

        # The tables' changelogs too: a table write checks its changelog's partition count in
        # the consumer's metadata, which holds 0 for a changelog created after the join.
        changelogs = [table.changelog_topic for table in self.app.tables.values()]
        for topic in [*ALL_TOPICS, *changelogs]:
            await topic.maybe_declare()
        names = [name for topic in ALL_TOPICS for name in topic.topics]
        await self._until_visible([*names, *(c.get_topic_name() for c in changelogs)])
        await self._refuse_other_partition_counts(names)
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
                line = partition_mismatch(name, len(partitions), expected)
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
