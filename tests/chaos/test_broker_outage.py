"""The broker stopped for 20 s and started again under load (issue 14): the worker reconnects by
itself, nothing is lost or doubled, and the time to recover is reported. A broker of the test's
own (``support/broker.py``): the shared one on 19092 is never stopped."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

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
)
from tests.integration.conftest import Deployment
from tests.integration.support.broker import PrivateBroker
from tests.integration.support.kafka import read_all
from tests.integration.support.polling import eventually
from tests.integration.support.processes import SandboxProcess

pytestmark = pytest.mark.chaos

OUTAGE_SECONDS = 20.0
"""The fault itself (how long the broker is away), not a wait for anything."""
NPOS = ("outage-a", "outage-b", "outage-c")


@pytest.fixture
def private_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateBroker]:
    broker = PrivateBroker(tmp_path_factory.mktemp("chaos-kafka"))
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


async def test_broker_stopped_for_20_seconds_under_load(
    private_broker: PrivateBroker, sandbox: SandboxProcess, deployment: Deployment
) -> None:
    # The broker fixture comes first, so it is torn down last: workers stopped after it would
    # wait their whole stop timeout (30 s) for a broker that is gone.
    deployment.env["NPO_BROKER_URL"] = private_broker.url
    on = private_broker.broker
    for npo_id in NPOS:
        await add_npo(sandbox, npo_id, 30)
    await sandbox.set_faults("outage-a", endpoint="enrol", latency_ms=300)
    worker = await deployment.start_worker("outage")
    rss = {"outage": rss_now(worker)}
    for npo_id in NPOS:
        config = offering_config(
            npo_id, sandbox.npo_url(npo_id), schedule=2, enrolment=npo_id == "outage-a"
        )
        await put_config(worker, deployment, config)
    await settled_ledger(sandbox, deployment, npos=list(NPOS), broker=on)

    ids = [f"asg-outage-{i:02d}" for i in range(30)]
    await send_assignments(deployment, "outage-a", ids, broker=on)

    async def enrolling() -> bool:
        return len(await sandbox.enrolments("outage-a")) >= 3

    await eventually(enrolling, timeout=60, interval=0.05, what="enrolments under way")
    await asyncio.to_thread(private_broker.stop)
    # Load goes on at the NPOs while the broker is away: every NPO changes a record.
    for npo_id in NPOS:
        record = (await sandbox.records(npo_id, "offerings"))[0]
        await sandbox.upsert(npo_id, "offerings", {"id": record["id"], "title": "During outage"})
    await asyncio.sleep(OUTAGE_SECONDS)
    assert worker.proc is not None and worker.proc.poll() is None, "the worker died"
    await asyncio.to_thread(private_broker.start)
    back = time.monotonic()

    async def changes_through() -> bool:
        events = await read_all(deployment.topics["offerings"], broker=on)
        titled = {
            m.value["npo_id"]
            for m in events
            if isinstance(m.value, dict) and m.value["offering"].get("title") == "During outage"
        }
        return titled == set(NPOS)

    await eventually(changes_through, timeout=120, what="the outage's changes published")
    recovered = round(time.monotonic() - back, 1)
    ledger = await settled_ledger(
        sandbox,
        deployment,
        npos=list(NPOS),
        assignments=ids,
        enrolling_npos=["outage-a"],
        broker=on,
    )
    finish(
        "broker_outage",
        f"Broker stopped for {OUTAGE_SECONDS:.0f} s under load (pulls every 2 s, 30 enrolments)",
        ledger,
        memory_of([worker], rss),
        {"broker back to the outage's changes published": recovered},
        notes=["the worker was not restarted: it reconnected by itself"],
    )
