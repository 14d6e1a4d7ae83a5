"""The README's run command brings up simulator and worker; offering events appear within 30 s."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

from tests.integration.conftest import Deployment
from tests.integration.support.kafka import read_all
from tests.integration.support.polling import eventually
from tests.integration.support.processes import ROOT, Process, free_port

DEMO_SANDBOX_PORT = 8900  # the port examples/demo/npo-configs.json points at


def _port_is_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


async def test_run_demo_publishes_offerings_within_30_seconds(
    deployment: Deployment, tmp_path: Path
) -> None:
    assert _port_is_free(DEMO_SANDBOX_PORT), "port 8900 is taken (is `make run` running?)"
    env = {
        **os.environ,
        **deployment.env,
        "NPO_WEB_PORT": str(free_port()),
        "NPO_DATA_DIR": str(tmp_path / "demo-data"),
    }
    env.pop("NPO_CONFIG_FILE", None)
    demo = Process("demo", [str(ROOT / "scripts" / "run-demo.sh")], env, tmp_path)
    started = time.monotonic()
    demo.spawn()
    try:

        async def offerings() -> list:
            return await read_all(deployment.topics["offerings"])

        messages = await eventually(offerings, timeout=30, what="an offering event from the demo")
        assert time.monotonic() - started < 30
        assert all(m.value["npo_id"] == "demo-npo" for m in messages)
        assert messages[0].value["event_type"] == "npo_offering.created"
    finally:
        demo.stop()

    async def simulator_gone() -> bool:  # it stops with the demo, in its own time
        return _port_is_free(DEMO_SANDBOX_PORT)

    await eventually(simulator_gone, timeout=15, what="the demo's simulator to stop with it")
