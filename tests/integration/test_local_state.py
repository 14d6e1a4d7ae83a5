"""A worker's data directory that outlives its broker: one line and a way out, and a demo that
recovers by itself (issue 17).

These tests reset a broker, so they run their own (``support/broker.py``): scripts/kafka.sh on
free ports with its data in a temporary directory, started once for the module and stopped at
its end. The shared broker is never reset.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import Deployment
from tests.integration.support.admin import admin
from tests.integration.support.broker import PrivateBroker
from tests.integration.support.kafka import read_all
from tests.integration.support.polling import eventually
from tests.integration.support.processes import (
    ROOT,
    Process,
    SandboxProcess,
    WorkerProcess,
    free_port,
)
from tests.integration.test_demo import DEMO_SANDBOX_PORT, _port_is_free
from tests.integration.test_registry import npo_config


@pytest.fixture(scope="module")
def private_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateBroker]:
    broker = PrivateBroker(tmp_path_factory.mktemp("private-kafka"))
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def reset_local_state(data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "npo_integration.cli",
            "reset-local-state",
            "--data-dir",
            str(data_dir),
        ],
        env={k: v for k, v in os.environ.items() if not k.startswith("NPO_")},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def refused_start(worker: WorkerProcess) -> str:
    """Start ``worker`` and expect it to stop by itself, non-zero; its output of this run."""
    seen = len(worker.output())
    worker.spawn()
    assert worker.proc is not None
    proc = worker.proc

    async def exited() -> bool:
        return proc.poll() is not None

    await eventually(exited, timeout=90, what="the worker to stop by itself")
    await asyncio.to_thread(proc.wait)
    output = worker.output()[seen:]
    assert proc.returncode != 0, output[-3000:]
    return output


async def test_a_worker_on_a_reset_broker_stops_with_one_line_until_its_state_is_reset(
    private_broker: PrivateBroker, deployment: Deployment, sandbox: SandboxProcess
) -> None:
    deployment.env["NPO_BROKER_URL"] = private_broker.url
    token = deployment.admin_token
    data_dir = deployment.workdir / "w-data"
    await sandbox.add_npo("kept", flavour="simple", offerings=1)

    first = await deployment.start_worker("w")
    status, _ = await admin(
        first.url,
        token,
        "PUT",
        "/admin/npos/kept?wait=true",
        npo_config("kept", sandbox.npo_url("kept")),
    )
    assert status == 200

    # A running worker's directory is not reset under it.
    refused = await asyncio.to_thread(reset_local_state, data_dir)
    assert refused.returncode != 0
    assert "is in use by a running worker" in refused.stderr, refused.stderr
    first.stop()

    # Reset on the same cluster: the next start rebuilds the tables from the changelogs.
    reset = await asyncio.to_thread(reset_local_state, data_dir)
    assert reset.returncode == 0, reset.stderr
    assert f"removed {data_dir / 'v1' / 'tables'}" in reset.stdout
    rebuilt = await deployment.start_worker("w")

    async def recovered() -> bool:
        status, body = await admin(rebuilt.url, token, "GET", "/admin/npos/kept")
        return status == 200 and body["npo_id"] == "kept"

    await eventually(recovered, timeout=30, what="the NPO config recovered from its changelog")
    rebuilt.stop()

    # The broker reset: the directory belongs to a cluster that no longer exists.
    said = await asyncio.to_thread(private_broker.reset)
    assert "its topics, changelogs and consumer offsets are gone" in said
    output = await refused_start(WorkerProcess("w", deployment.env, deployment.workdir))
    stop_lines = [line for line in output.splitlines() if line.startswith("npo-integration: ")]
    assert len(stop_lines) == 1, output[-3000:]
    line = stop_lines[0]
    assert line.startswith(
        f"npo-integration: data directory {data_dir} holds table state of Kafka cluster "
    )
    assert f"but the broker at {private_broker.url} is cluster " in line
    assert line.endswith(
        f"run: npo-integration reset-local-state --data-dir {data_dir} "
        "(docs/operations.md#local-table-state)"
    )
    assert "Traceback" not in output, output[-3000:]
    assert "ConsistencyError" not in output, output[-3000:]

    reset = await asyncio.to_thread(reset_local_state, data_dir)
    assert reset.returncode == 0, reset.stderr
    again = await deployment.start_worker("w")
    # The tables are this cluster's: empty changelogs, so the NPO registered before is gone.
    assert (await admin(again.url, token, "GET", "/admin/npos/kept"))[0] == 404


async def run_demo_until_offerings(
    env: dict[str, str], workdir: Path, topic: str, broker: PrivateBroker
) -> str:
    """``scripts/run-demo.sh`` until an offering is on ``topic``, then stopped; its output."""
    assert _port_is_free(DEMO_SANDBOX_PORT), "port 8900 is taken (is `make run` running?)"
    demo = Process("demo", [str(ROOT / "scripts" / "run-demo.sh")], env, workdir)
    seen = len(demo.output())
    demo.spawn()
    try:

        async def offerings() -> list:
            return await read_all(topic, broker=broker.broker)

        try:
            await eventually(offerings, timeout=60, what="an offering event from the demo")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{demo.output()[seen:][-3000:]}") from None
    finally:
        demo.stop()

    async def simulator_gone() -> bool:
        return _port_is_free(DEMO_SANDBOX_PORT)

    await eventually(simulator_gone, timeout=15, what="the demo's simulator to stop with it")
    return demo.output()[seen:]


async def test_the_demo_starts_again_after_its_broker_is_reset(
    private_broker: PrivateBroker, deployment: Deployment, tmp_path: Path
) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if k != "NPO_RESET_LOCAL_STATE_ON_CLUSTER_CHANGE"},
        **deployment.env,
        "NPO_BROKER_URL": private_broker.url,
        "NPO_WEB_PORT": str(free_port()),
        "NPO_DATA_DIR": str(tmp_path / "demo-data"),
    }
    env.pop("NPO_CONFIG_FILE", None)
    topic = deployment.topics["offerings"]
    await run_demo_until_offerings(env, tmp_path, topic, private_broker)

    await asyncio.to_thread(private_broker.reset)
    assert await read_all(topic, broker=private_broker.broker) == []

    output = await run_demo_until_offerings(env, tmp_path, topic, private_broker)
    assert "NPO_RESET_LOCAL_STATE_ON_CLUSTER_CHANGE is set: removed" in output, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
