"""Chaos fixtures: every test here is marked ``chaos`` (``make chaos`` runs them alone) and shares
the integration suite's deployments, simulator and broker helpers."""

from __future__ import annotations

import subprocess

import pytest

from tests.integration.support.processes import ROOT

pytestmark = pytest.mark.chaos


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/chaos" in str(item.fspath):
            item.add_marker(pytest.mark.chaos)


@pytest.fixture(scope="session", autouse=True)
def kafka_broker() -> None:
    """The shared broker (started by the test command; here too when pytest runs alone)."""
    subprocess.run([str(ROOT / "scripts" / "kafka.sh"), "start"], check=True)
