"""Chaos fixtures: every test module here is marked ``chaos`` (``make chaos`` runs them alone,
``make test`` runs the rest first) and shares the integration suite's deployments, simulator and
broker helpers."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import Deployment
from tests.integration.support.processes import ROOT, SandboxProcess


@pytest.fixture(scope="session", autouse=True)
def kafka_broker() -> None:
    """The shared broker (started by the test command; here too when pytest runs alone)."""
    subprocess.run([str(ROOT / "scripts" / "kafka.sh"), "start"], check=True)


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[SandboxProcess]:
    process = await SandboxProcess(tmp_path).start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    deployment = Deployment(tmp_path)
    try:
        yield deployment
    finally:
        deployment.remove()
