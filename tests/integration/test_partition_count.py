"""The partition count is a decision made once: a worker refuses topics created with another.

A key's partition is its hash modulo the count, so a worker running on topics whose
count disagrees with ``NPO_TOPIC_PARTITIONS`` would find keys away from their table
state. It stops before its consumer joins, with one line naming the topic, its count
and the setting.
"""

from __future__ import annotations

import asyncio

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.integration.conftest import Deployment
from tests.integration.support.kafka import BOOTSTRAP
from tests.integration.support.polling import eventually
from tests.integration.support.processes import WorkerProcess


async def _create_topic(name: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, replication_factor=1)])
    finally:
        await admin.close()


async def test_a_worker_refuses_topics_created_with_another_partition_count(
    deployment: Deployment,
) -> None:
    offerings = deployment.topics["offerings"]
    await _create_topic(offerings, partitions=2)  # the deployment's setting is 4

    worker = WorkerProcess("worker-refused", deployment.env, deployment.workdir)
    deployment.workers.append(worker)
    worker.spawn()
    assert worker.proc is not None
    proc = worker.proc

    async def exited() -> bool:
        return proc.poll() is not None

    await eventually(exited, timeout=90, what="the worker to stop")
    await asyncio.to_thread(proc.wait)
    assert proc.returncode != 0
    line = (
        f"npo-integration: topic {offerings} has 2 partitions but NPO_TOPIC_PARTITIONS is 4; "
        "a partition count cannot change under existing keys: set NPO_TOPIC_PARTITIONS=2 "
        "or migrate to new topics (docs/deployment.md)"
    )
    output = worker.output()
    assert line in output.splitlines(), output[-3000:]
    assert "Traceback" not in output, output[-3000:]


async def test_a_worker_starts_on_topics_with_the_setting_s_count(
    deployment: Deployment,
) -> None:
    """The same topic created with the setting's count is accepted: the check is not a refusal
    of every existing topic."""
    await _create_topic(deployment.topics["offerings"], partitions=4)
    worker = await deployment.start_worker()
    assert "NPO_TOPIC_PARTITIONS" not in worker.output()
