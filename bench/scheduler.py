"""Scheduler benchmark: an idle worker with N registered NPOs (the seed's three-year figure:
100,000), each pulled once and next due a day later; and how soon a newly due NPO is requested.

- idle CPU: the worker's CPU over a quiet window, as a share of one core, beside the same
  measure for a worker with no NPO at all (what Faust and the timers cost by themselves);
- due within one tick: a new NPO registered through the admin API is due at once; the
  time from its config being applied to its first request at the simulator, against the
  scheduler's tick.

Usage: .venv/bin/python bench/scheduler.py [--npos 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from datetime import datetime
from typing import Any

import aiohttp
from harness import (
    SIMULATED_TOKEN,
    BenchResult,
    Deployment,
    Figure,
    by_thread,
    calibrate,
    cpu_seconds,
    metric,
    produce_many,
    profiled,
    report,
    rss_mb,
    simulated_config,
    simulated_npos,
    thread_cpu,
    until,
    workdir,
)

from tests.integration.support.processes import SandboxProcess

TICK = 1.0
QUIET_SECONDS = 30.0
SETTLE_WINDOWS = 12


def config(sandbox: SandboxProcess, npo_id: str) -> dict[str, Any]:
    return simulated_config(sandbox, npo_id, schedule_seconds=86_400, page_size=100)


async def settle(pid: int) -> float:
    """Wait until the worker's CPU stops falling after the first sweep, so the quiet window
    measures an idle worker, not the tail of the sweep (changelog flushes, offset commits): 10 s
    windows until one is within half a point of the one before. Returns the seconds it took."""
    started, previous = time.monotonic(), None
    for _ in range(SETTLE_WINDOWS):
        before = thread_cpu(pid)
        share = await idle_share(pid, 10.0)
        after = thread_cpu(pid)
        print(f"  settling: {share:.1%} of a core ({by_thread(before, after, top=3, digits=2)})")
        if previous is not None and abs(share - previous) < 0.005:
            break
        previous = share
    return time.monotonic() - started


async def idle_share(pid: int, seconds: float) -> float:
    """CPU used over ``seconds`` of wall time, as a share of one core."""
    cpu0, wall0 = cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(seconds)  # a measuring window, not a wait for anything
    return (cpu_seconds(pid) - cpu0) / (time.monotonic() - wall0)


async def run(count: int) -> BenchResult:
    with workdir("scheduler") as tmp:
        sandbox = await SandboxProcess(tmp).start()
        empty = Deployment(tmp, "sched-empty")
        deployment = Deployment(tmp, "sched")
        try:
            empty_worker = await empty.start_worker()
            await until(lambda: _ready(empty_worker.url), timeout=60, what="the empty worker")
            idle_empty = await idle_share(empty_worker.proc.pid, QUIET_SECONDS)  # type: ignore[union-attr]
            await empty.stop()
            print(f"idle worker, no NPO: {idle_empty:.1%} of a core")

            npo_ids = await simulated_npos(sandbox, count, "s-", offerings=1, page_size=100)
            await deployment.create_topics(["npo_assessed"])
            await produce_many(
                deployment.topics["npo_assessed"],
                [
                    (
                        n.encode(),
                        json.dumps(
                            {
                                "event_id": str(uuid.uuid4()),
                                "event_type": "npo.assessed",
                                "occurred_at": "2026-11-30T09:00:00Z",
                                "npo_id": n,
                                "integration": config(sandbox, n),
                            }
                        ).encode(),
                    )
                    for n in npo_ids
                ],
            )
            deployment.env["NPO_SCHEDULER_TICK_SECONDS"] = str(TICK)
            deployment.env["NPO_HTTP_MAX_CONNECTIONS_PER_HOST"] = (
                "64"  # every NPO on the simulator's host
            )
            worker = await deployment.start_worker()
            pid = worker.proc.pid  # type: ignore[union-attr]
            started = time.monotonic()

            async def all_pulled() -> bool:
                return (
                    await metric(worker.url, "npo_pulls_total", {"outcome": "succeeded"}) >= count
                )

            await until(all_pulled, timeout=3600, what=f"{count} first pulls", interval=2.0)
            await until(
                lambda: _at_least(worker.url, "npo_ingested_records_total", count),
                timeout=600,
                what="every first record ingested",
                interval=1.0,
            )
            first_sweep = time.monotonic() - started
            print(f"{count} NPOs registered and pulled once in {first_sweep:.0f} s")
            settled = await settle(pid)
            print(f"the first sweep's trailing work settled after {settled:.0f} s")
            with profiled(pid, "scheduler-idle"):
                idle_full = await idle_share(pid, QUIET_SECONDS)
            rss_full = rss_mb(pid)
            print(f"idle worker, {count} NPOs: {idle_full:.1%} of a core; RSS {rss_full:.0f} MB")

            new_npo = "s-new"
            await sandbox.add_npo(
                new_npo,
                flavour="simple",
                auth={"kind": "bearer", "token": SIMULATED_TOKEN},
                offerings=1,
            )
            # From the config's submission (the worker may request the NPO before its answer to
            # the PUT arrives): an upper bound of the time from applied to requested.
            submitted_at = datetime.now().astimezone()
            async with (
                aiohttp.ClientSession() as session,
                session.put(
                    f"{worker.url}/admin/npos/{new_npo}?wait=true",
                    json=config(sandbox, new_npo),
                    headers={"Authorization": f"Bearer {deployment.admin_token}"},
                ) as resp,
            ):
                assert resp.status == 200, await resp.text()

            async def requested() -> bool:
                return bool(await sandbox.requests(new_npo))

            await until(requested, timeout=60, what="the new NPO's first request")
            first = min(datetime.fromisoformat(r["time"]) for r in await sandbox.requests(new_npo))
            due_latency = (first - submitted_at).total_seconds()
            print(
                f"a newly due NPO requested {due_latency:.2f} s after its config was submitted "
                f"(tick {TICK:g} s)"
            )
        finally:
            await deployment.stop()
            sandbox.stop()

    result = BenchResult(
        bench="scheduler",
        title="Scheduler: an idle worker with many registered NPOs, and a newly due one",
        parameters={
            "NPOs": count,
            "schedule": "one pull a day each (all pulled once)",
            "tick": f"{TICK:g} s",
            "quiet window": f"{QUIET_SECONDS:g} s, once the first sweep's tail settled "
            f"({settled:.0f} s)",
        },
    )
    result.figures += [
        Figure("idle worker, no NPO", idle_empty * 100, "% of a core"),
        Figure(
            f"idle worker, {count:,} NPOs",
            idle_full * 100,
            "% of a core",
            idle_empty * 100,
            "no NPO",
            target="< 5% of a core",
            met=idle_full < 0.05,
        ),
        # no target: what a first sweep of every NPO at once costs (a fleet's first start, a
        # restore), and what a worker holds once it pulled them all
        Figure(
            f"every NPO registered and pulled once, {count:,} NPOs",
            count / first_sweep,
            "NPOs/s",
        ),
        Figure(f"worker RSS once {count:,} NPOs were pulled", rss_full, "MB"),
        Figure(
            "a newly due NPO requested, from its config's submission",
            due_latency,
            "s",
            TICK,
            "one tick",
            target="within one tick (plus its pull's start)",
            met=due_latency <= TICK + 0.5,
        ),
    ]
    return result


async def _ready(url: str) -> bool:
    try:
        async with aiohttp.ClientSession() as session, session.get(f"{url}/health") as resp:
            return resp.status == 200
    except aiohttp.ClientError:
        return False


async def _at_least(url: str, name: str, value: float) -> bool:
    return await metric(url, name) >= value


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--npos", type=int, default=100_000)
    args = parser.parse_args()
    calibrate()
    report(asyncio.run(run(args.npos)))


if __name__ == "__main__":
    main()
