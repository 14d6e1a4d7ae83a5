"""Two workers share the NPOs: each NPO is pulled once per interval, and
pulls move when a worker stops.

The scheduler keeps an in-memory due index of the partitions its worker owns
(``timers/pull_scheduler.py``); the hand-over checks that the worker taking a
partition over rebuilds it: every NPO it took is pulled within one interval
(plus the rebalance) and none twice in an interval.
"""

from __future__ import annotations

import re
from datetime import datetime
from itertools import pairwise

from tests.integration.conftest import Deployment
from tests.integration.support.polling import eventually
from tests.integration.support.processes import SandboxProcess
from tests.integration.test_pull import config, stream

INTERVAL = 3
NPOS = [f"cl-{i}" for i in range(8)]
REBALANCE_ALLOWANCE = 20.0  # a graceful leave, a rebalance and the recovery of the moved tables


async def first_page_times(sandbox: SandboxProcess, npo_id: str) -> list[datetime]:
    """When each pull of the NPO started (its first page was asked for)."""
    return [
        datetime.fromisoformat(r["time"])
        for r in await sandbox.requests(npo_id)
        if r["endpoint"] == "offerings" and r["query"].get("page") == "1"
    ]


def pulled_by(log: str) -> set[str]:
    return set(re.findall(r"pull (cl-\d+)/offerings", log))


async def test_each_npo_is_pulled_once_per_interval_and_moves_when_its_worker_stops(
    sandbox: SandboxProcess, deployment: Deployment
) -> None:
    auth = {"kind": "bearer", "token": "cl"}
    streams = {
        "offerings": stream(
            "/api/offerings",
            records_path="data",
            schedule_seconds=INTERVAL,
            pagination={"style": "page_number", "page_size": 5},
        )
    }
    for npo_id in NPOS:
        await sandbox.add_npo(npo_id, flavour="simple", auth=auth, offerings=3)
    deployment.write_configs([config(n, sandbox.npo_url(n), auth, streams) for n in NPOS])
    first = await deployment.start_worker("first")
    second = await deployment.start_worker("second")

    async def both_pull() -> bool:
        return bool(pulled_by(first.output())) and bool(pulled_by(second.output()))

    await eventually(both_pull, timeout=40, what="both workers owning some NPOs")
    steady_from = datetime.now().astimezone()

    async def four_runs_each() -> bool:
        for npo_id in NPOS:
            if len([t for t in await first_page_times(sandbox, npo_id) if t > steady_from]) < 4:
                return False
        return True

    await eventually(four_runs_each, timeout=40, what="four steady-state runs of every NPO")
    for npo_id in NPOS:
        times = [t for t in await first_page_times(sandbox, npo_id) if t > steady_from]
        gaps = [(b - a).total_seconds() for a, b in pairwise(times)]
        assert min(gaps) >= INTERVAL * 0.9, f"{npo_id} pulled twice in one interval: {gaps}"

    # The first worker stops; the NPOs it owned go on being pulled by the second.
    owned_by_first = pulled_by(first.output()) - pulled_by(second.output())
    assert owned_by_first, "the first worker owned no NPO of its own"
    first.stop()
    stopped_at = datetime.now().astimezone()

    async def second_took_over() -> bool:
        for npo_id in owned_by_first:
            if len([t for t in await first_page_times(sandbox, npo_id) if t > stopped_at]) < 2:
                return False
        return owned_by_first <= pulled_by(second.output())

    await eventually(
        second_took_over, timeout=45, what="the second worker pulling the first one's NPOs"
    )
    for npo_id in NPOS:
        times = await first_page_times(sandbox, npo_id)
        gaps = [(b - a).total_seconds() for a, b in pairwise(times)]
        assert min(gaps) >= INTERVAL * 0.9, (
            f"{npo_id} pulled twice in one interval around the hand-over: {gaps}"
        )
    for npo_id in owned_by_first:
        before = [t for t in await first_page_times(sandbox, npo_id) if t <= stopped_at]
        after = [t for t in await first_page_times(sandbox, npo_id) if t > stopped_at]
        wait = (after[0] - max(before[-1], stopped_at)).total_seconds()
        assert wait <= INTERVAL + REBALANCE_ALLOWANCE, (
            f"{npo_id} waited {wait:.1f}s for its new owner"
        )
