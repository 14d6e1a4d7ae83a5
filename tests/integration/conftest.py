"""Integration fixtures: the real broker (started by scripts/kafka.sh),
simulator and worker processes.

Each test gets its own app id and topic names, so tests share one broker
without seeing each other's messages, consumer groups or tables.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from tests.integration.support.kafka import BOOTSTRAP, delete_topics
from tests.integration.support.processes import ROOT, SandboxProcess, WorkerProcess

pytestmark = pytest.mark.integration

TOPIC_SETTINGS = (
    "npo_assessed",
    "candidate_assignments",
    "assignment_updated",
    "offerings",
    "config_commands",
    "fetch_requests",
    "raw_records",
    "enrolment_results",
    "enrolment_links",
    "enrolment_commands",
    "dead_letters",
    "ingest_commands",
    "candidate_erased",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session", autouse=True)
def kafka_broker() -> None:
    """The broker the test command started; start it here too when pytest is run on its own."""
    subprocess.run([str(ROOT / "scripts" / "kafka.sh"), "start"], check=True)


class Deployment:
    """One isolated deployment of the service: its env (app id, topic
    names, keys) and its workers."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        suffix = uuid.uuid4().hex[:8]
        self.topic_prefixes = (f"it-{suffix}.", f"npo-it-{suffix}-")
        """Its own topics, and the ones Faust makes for it (changelogs, repartitions)."""
        self.topics = {name: f"it-{suffix}.{name.replace('_', '-')}" for name in TOPIC_SETTINGS}
        self.admin_token = f"admin-{suffix}-{uuid.uuid4().hex}"  # 47 characters: at least 32
        self.secrets_key = Fernet.generate_key().decode()
        self.env: dict[str, str] = {
            "NPO_APP_ID": f"npo-it-{suffix}",
            "NPO_BROKER_URL": f"kafka://{BOOTSTRAP}",
            "NPO_SECRETS_KEYS": self.secrets_key,
            "NPO_ADMIN_TOKEN": self.admin_token,
            "NPO_ALLOW_PRIVATE_NPO_URLS": "true",
            "NPO_TOPIC_PARTITIONS": "4",
            "NPO_SCHEDULER_TICK_SECONDS": "0.5",
            "NPO_PROCESSING_GUARANTEE": os.environ.get("NPO_PROCESSING_GUARANTEE", "at_least_once"),
            **{f"NPO_TOPIC_{name.upper()}": topic for name, topic in self.topics.items()},
        }
        self.workers: list[WorkerProcess] = []

    def write_configs(self, configs: list[dict[str, Any]]) -> Path:
        path = self.workdir / "npo-configs.json"
        path.write_text(json.dumps(configs))
        self.env["NPO_CONFIG_FILE"] = str(path)
        return path

    async def start_worker(self, name: str | None = None, **env: str) -> WorkerProcess:
        worker = WorkerProcess(
            name or f"worker{len(self.workers) + 1}", {**self.env, **env}, self.workdir
        )
        self.workers.append(worker)
        return await worker.start()

    def stop_all(self) -> None:
        for worker in self.workers:
            worker.stop()

    def remove(self) -> None:
        """Stop the workers and delete the deployment's topics: a suite run leaves the shared
        broker as it found it (it once ran out of heap carrying every run's partitions)."""
        self.stop_all()
        asyncio.run(delete_topics(self.topic_prefixes))


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[SandboxProcess]:
    process = await SandboxProcess(tmp_path).start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def deployment(tmp_path: Path) -> Any:
    deployment = Deployment(tmp_path)
    try:
        yield deployment
    finally:
        deployment.remove()


StartWorker = Callable[..., Awaitable[WorkerProcess]]


class Stack:
    """A simulator and a deployment with one running worker, shared by the tests of one module."""

    def __init__(
        self, sandbox: SandboxProcess, deployment: Deployment, worker: WorkerProcess
    ) -> None:
        self.sandbox = sandbox
        self.deployment = deployment
        self.worker = worker


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Any:
    import asyncio

    workdir = tmp_path_factory.mktemp("stack")
    sandbox = asyncio.run(SandboxProcess(workdir).start())
    deployment = Deployment(workdir)
    try:
        worker = asyncio.run(deployment.start_worker())
        yield Stack(sandbox, deployment, worker)
    finally:
        deployment.remove()
        sandbox.stop()
