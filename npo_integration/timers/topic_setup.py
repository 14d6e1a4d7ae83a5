"""Declare every topic at start, so output topics exist with the configured partition count.

The broker does not auto-create topics (a topic created by a stray producer
with the wrong partition count would break co-partitioning), so senders wait
for ``topics_ready``.
"""

from __future__ import annotations

import asyncio
import logging

from npo_integration.app import app
from npo_integration.topics import ALL_TOPICS

log = logging.getLogger(__name__)

topics_ready = asyncio.Event()


@app.task
async def declare_topics() -> None:
    for topic in ALL_TOPICS:
        await topic.maybe_declare()
    topics_ready.set()
    log.info("topics declared: %s", ", ".join(t.get_topic_name() for t in ALL_TOPICS))
