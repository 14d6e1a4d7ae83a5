"""SIGKILL of a worker at four moments (issue 14): during a pull, during ingestion of a batch,
during an enrolment call, and during table recovery after a previous kill. One deployment for the
module; each test kills the running worker, starts a fresh one (a new data dir: its tables come
back from the changelogs) and ends with the ledger."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chaos.scenario import (
    add_npo,
    finish,
    memory_of,
    offering_config,
    put_config,
    rss_now,
    send_assignments,
    settled_ledger,
    start_timed,
)
from tests.integration.conftest import Deployment
from tests.integration.support.polling import eventually
from tests.integration.support.processes import SandboxProcess, WorkerProcess
from tests.integration.test_ingestion import message_count

pytestmark = pytest.mark.chaos

ENV = {"NPO_INGEST_BATCH_SIZE": "2"}  # small batches: a kill lands inside one


class Cluster:
    """The module's simulator, deployment and the one worker running now."""

    def __init__(self, sandbox: SandboxProcess, deployment: Deployment) -> None:
        self.sandbox = sandbox
        self.deployment = deployment
        self.worker: WorkerProcess | None = None
        self.rss_start: dict[str, float | None] = {}
        self.npos: list[str] = []

    async def restart(self, name: str) -> float:
        """A new worker after the kill; seconds to healthy."""
        worker, seconds = await start_timed(self.deployment, name)
        self.worker = worker
        self.rss_start[name] = rss_now(worker)
        return seconds

    def kill(self) -> None:
        assert self.worker is not None
        self.worker.kill()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    workdir: Path = tmp_path_factory.mktemp("chaos-kills")
    sandbox = asyncio.run(SandboxProcess(workdir).start())
    deployment = Deployment(workdir)
    deployment.env.update(ENV)
    c = Cluster(sandbox, deployment)
    try:
        asyncio.run(c.restart("w0"))
        yield c
    finally:
        deployment.remove()
        sandbox.stop()


async def test_sigkill_during_a_pull(cluster: Cluster) -> None:
    c, npo = cluster, "kill-pull"
    await add_npo(c.sandbox, npo, 200)
    await c.sandbox.set_faults(npo, endpoint="offerings", latency_ms=400)  # 10 pages, ~4 s
    assert c.worker is not None
    await put_config(c.worker, c.deployment, offering_config(npo, c.sandbox.npo_url(npo)))

    async def mid_pull() -> bool:
        pages = [r for r in await c.sandbox.requests(npo) if r["endpoint"] == "offerings"]
        return 3 <= len(pages) < 10

    await eventually(mid_pull, timeout=60, interval=0.05, what="a pull half-way through its pages")
    c.kill()
    await c.sandbox.set_faults(npo, endpoint="offerings", latency_ms=0)
    killed = time.monotonic()
    healthy = await c.restart("w-after-pull")
    ledger = await settled_ledger(c.sandbox, c.deployment, npos=[npo])
    finish(
        "kill_during_pull",
        "SIGKILL during a pull (page 3 to 9 of 10)",
        ledger,
        memory_of([c.worker], c.rss_start),  # type: ignore[list-item]
        {"restart to healthy": healthy, "kill to complete ledger": time.monotonic() - killed},
    )


async def test_sigkill_during_ingestion_of_a_batch(cluster: Cluster) -> None:
    c, npo, total = cluster, "kill-ingest", 2000
    await add_npo(c.sandbox, npo, total)
    assert c.worker is not None
    topic = c.deployment.topics["offerings"]
    already = await message_count(topic)
    config = offering_config(npo, c.sandbox.npo_url(npo), page_size=100)
    await put_config(c.worker, c.deployment, config)

    async def flowing() -> bool:  # end offsets only: cheap enough to poll every few ms
        return 0 < await message_count(topic) - already < total

    await eventually(flowing, timeout=60, interval=0.01, what="offering events flowing")
    c.kill()
    before = await message_count(topic) - already
    killed = time.monotonic()
    healthy = await c.restart("w-after-ingest")
    ledger = await settled_ledger(c.sandbox, c.deployment, npos=[npo])
    finish(
        "kill_during_ingestion",
        f"SIGKILL during ingestion (batches of 2, after {before} of {total} events)",
        ledger,
        memory_of([c.worker], c.rss_start),  # type: ignore[list-item]
        {"restart to healthy": healthy, "kill to complete ledger": time.monotonic() - killed},
    )


async def test_sigkill_during_enrolment_calls(cluster: Cluster) -> None:
    """Enrolments in flight on partitions never committed before (the loss issue 16 found)."""
    c, npo = cluster, "kill-enrol"
    await add_npo(c.sandbox, npo, 3)
    await c.sandbox.set_faults(npo, endpoint="enrol", latency_ms=700)
    assert c.worker is not None
    config = offering_config(npo, c.sandbox.npo_url(npo), enrolment=True, timeout=5)
    await put_config(c.worker, c.deployment, config)
    ids = [f"asg-kill-{i:03d}" for i in range(40)]
    await send_assignments(c.deployment, npo, ids)

    async def some_enrolled() -> bool:
        return 3 <= len(await c.sandbox.enrolments(npo)) < len(ids)

    await eventually(some_enrolled, timeout=60, interval=0.05, what="enrolment calls in flight")
    c.kill()
    await c.sandbox.set_faults(npo, endpoint="enrol", latency_ms=0)
    killed = time.monotonic()
    healthy = await c.restart("w-after-enrol")
    ledger = await settled_ledger(
        c.sandbox, c.deployment, npos=[npo], assignments=ids, enrolling_npos=[npo]
    )
    finish(
        "kill_during_enrolment",
        "SIGKILL with enrolment calls in flight (40 assignments, 0.7 s per call)",
        ledger,
        memory_of([c.worker], c.rss_start),  # type: ignore[list-item]
        {"restart to healthy": healthy, "kill to complete ledger": time.monotonic() - killed},
    )


async def test_sigkill_during_table_recovery_after_a_previous_kill(cluster: Cluster) -> None:
    """The tables hold every earlier test's state; a worker killed while it rebuilds them from the
    changelogs, then another that must recover and go on as if nothing happened."""
    c, npo = cluster, "kill-recovery"
    c.kill()
    recovering = WorkerProcess("w-recovering", {**c.deployment.env}, c.deployment.workdir)
    recovering.spawn()

    async def in_recovery() -> bool:
        return "recover" in recovering.output().lower()

    await eventually(
        in_recovery, timeout=60, interval=0.05, what="the worker recovering its tables"
    )
    recovering.kill()
    killed = time.monotonic()
    healthy = await c.restart("w-after-recovery")
    await add_npo(c.sandbox, npo, 50)
    assert c.worker is not None
    await put_config(c.worker, c.deployment, offering_config(npo, c.sandbox.npo_url(npo)))
    earlier = ["kill-pull", "kill-ingest", npo]
    ledger = await settled_ledger(c.sandbox, c.deployment, npos=earlier)
    finish(
        "kill_during_recovery",
        "SIGKILL during table recovery after a previous SIGKILL",
        ledger,
        memory_of([c.worker], c.rss_start),  # type: ignore[list-item]
        {"restart to healthy": healthy, "kill to complete ledger": time.monotonic() - killed},
    )
