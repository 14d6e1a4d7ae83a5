"""Two, then three workers under steady load (issue 14): one added, then one stopped while another
is added, then one SIGKILLed, while the NPOs change records and the platform sends assignments.
Each NPO is pulled once per interval throughout (never twice within one, and again within a
bounded gap after each move), and the ledger is clean."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from datetime import datetime
from itertools import pairwise

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
from tests.integration.support.polling import eventually, scaled
from tests.integration.support.processes import SandboxProcess, WorkerProcess
from tests.integration.test_pull_cluster import first_page_times

pytestmark = pytest.mark.chaos

INTERVAL = 4
NPOS = [f"rb-{i}" for i in range(6)]
ENROLLING = "rb-0"
SESSION_TIMEOUT = 10.0  # app.py broker_session_timeout: how long a killed worker's partitions wait
MOVE_ALLOWANCE = 30.0  # a rebalance and the recovery of the moved tables, on a busy machine


class Load:
    """Steady traffic until stopped: a record changed at some NPO and an assignment sent,
    alternately, every 0.25 s."""

    def __init__(self, sandbox: SandboxProcess, deployment: Deployment) -> None:
        self.sandbox = sandbox
        self.deployment = deployment
        self.assignments: list[str] = []
        self.changes = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        for n in itertools.count():
            npo_id = NPOS[n % len(NPOS)]
            record = (await self.sandbox.records(npo_id, "offerings"))[n % 20]
            await self.sandbox.upsert(npo_id, "offerings", {"id": record["id"], "title": f"v{n}"})
            self.changes += 1
            assignment_id = f"asg-rb-{n:04d}"
            await send_assignments(self.deployment, ENROLLING, [assignment_id])
            self.assignments.append(assignment_id)
            await asyncio.sleep(0.25)  # the load's pace, not a wait for anything

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def pulled_again(sandbox: SandboxProcess, since: datetime, what: str) -> None:
    """Every NPO pulled once more after ``since`` (by whichever worker owns it now)."""

    async def probe() -> bool:
        for npo_id in NPOS:
            if not [t for t in await first_page_times(sandbox, npo_id) if t > since]:
                return False
        return True

    await eventually(probe, timeout=INTERVAL * 2 + SESSION_TIMEOUT + MOVE_ALLOWANCE, what=what)


async def test_workers_added_stopped_and_killed_under_steady_load(
    sandbox: SandboxProcess, deployment: Deployment
) -> None:
    # a revocation waits for enrolment calls in flight up to the longest call timeout + 5 s
    deployment.env["NPO_HTTP_MAX_CALL_TIMEOUT_SECONDS"] = "5"
    for npo_id in NPOS:
        await add_npo(sandbox, npo_id, 20)
    w1, w2 = await asyncio.gather(deployment.start_worker("w1"), deployment.start_worker("w2"))
    rss = {w.name: rss_now(w) for w in (w1, w2)}
    for npo_id in NPOS:
        config = offering_config(
            npo_id, sandbox.npo_url(npo_id), schedule=INTERVAL, enrolment=npo_id == ENROLLING
        )
        await put_config(w1, deployment, config)
    load = Load(sandbox, deployment)
    load.start()
    moves: list[tuple[str, datetime]] = []

    def now() -> datetime:
        return datetime.now().astimezone()

    await pulled_again(sandbox, now(), "every NPO pulled by two workers")
    started = time.monotonic()
    moves.append(("third worker added", now()))
    w3 = await deployment.start_worker("w3")
    rss["w3"] = rss_now(w3)
    await pulled_again(sandbox, moves[-1][1], "pulls after the third worker joined")
    # one stopped and one added at once: the fleet stays at three
    moves.append(("w1 stopped, w4 added", now()))
    w4_starting = asyncio.create_task(deployment.start_worker("w4"))
    await asyncio.to_thread(w1.stop)
    w4 = await w4_starting
    rss["w4"] = rss_now(w4)
    await pulled_again(sandbox, moves[-1][1], "pulls after w1 left and w4 joined")
    moves.append(("w2 SIGKILLed", now()))
    killed = now()
    w2.kill()
    await pulled_again(sandbox, killed, "pulls after w2 was killed")
    await load.stop()

    double, longest = [], 0.0
    bound = scaled(INTERVAL + SESSION_TIMEOUT + MOVE_ALLOWANCE)
    for npo_id in NPOS:
        times = await first_page_times(sandbox, npo_id)
        for a, b in pairwise(times):
            gap = (b - a).total_seconds()
            longest = max(longest, gap)
            if gap < INTERVAL * 0.9 and not a <= killed <= b:
                double.append(f"{npo_id} at {b:%H:%M:%S} ({gap:.1f} s)")
    assert not double, f"pulled twice within one interval: {double}"
    assert longest <= bound, f"an NPO went {longest:.0f} s without a pull (bound {bound:.0f} s)"

    ledger = await settled_ledger(
        sandbox,
        deployment,
        npos=NPOS,
        assignments=load.assignments,
        enrolling_npos=[ENROLLING],
    )
    workers: list[WorkerProcess] = [w1, w2, w3, w4]
    finish(
        "rebalance_under_load",
        "2 then 3 workers under load: one added, one stopped and one added, one SIGKILLed",
        ledger,
        memory_of(workers, rss),
        {
            "longest gap between two pulls of an NPO": longest,
            "first move to the end of the last": time.monotonic() - started,
        },
        notes=[
            f"{load.changes} record changes and {len(load.assignments)} assignments during the "
            f"moves; pulls every {INTERVAL} s, none twice within one",
        ],
    )
