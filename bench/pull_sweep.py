"""Pull sweep benchmark: one worker pulls N simulated NPOs of 3 pages each at 50 ms a request, and
ingests what it pulls.

Two sweeps, both timed from the first request to the last as the simulator saw them:

- the first sweep: every record is new (each becomes an event, ingested by the same worker);
- the steady-state sweep: the same records again (unchanged, as most are between two pulls),
  all NPOs requested at once on the fetch-requests topic.

Yardsticks measured or derived in the same run, on the same machine, against the same simulator:
the ideal bound ceil(N / concurrency) x pages x latency, and a bare aiohttp loop pulling the same
NPOs with the same concurrency. The worker's CPU time per fetched page is reported too.
Each figure is the best of ``BENCH_REPEAT`` runs (2), each with a fresh simulator and worker.

Usage: .venv/bin/python bench/pull_sweep.py [--npos 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import datetime
from typing import Any

import aiohttp
from harness import (
    REPEAT,
    SIMULATED_TOKEN,
    BenchResult,
    Deployment,
    Figure,
    best,
    by_thread,
    calibrate,
    cpu_seconds,
    message_times,
    produce_many,
    profiled,
    report,
    simulated_config,
    simulated_npos,
    thread_cpu,
    until,
    workdir,
)

from npo_integration.models.internal import FetchRequest
from tests.integration.support.processes import SandboxProcess

PAGES = 3
PAGE_SIZE = 10
# the third page is short: exactly 3 requests per pull
RECORDS = PAGE_SIZE * (PAGES - 1) + PAGE_SIZE // 2


async def baseline_sweep(sandbox_url: str, npo_ids: list[str], concurrency: int) -> float:
    """The same pulls with nothing but aiohttp: the cost of the HTTP work alone."""
    limit = asyncio.Semaphore(concurrency)
    headers = {"Authorization": f"Bearer {SIMULATED_TOKEN}"}

    async def pull(session: aiohttp.ClientSession, npo_id: str) -> None:
        async with limit:
            for page in range(1, PAGES + 1):
                url = f"{sandbox_url}/npos/{npo_id}/api/offerings?page={page}&per_page={PAGE_SIZE}"
                async with session.get(url, headers=headers) as resp:
                    body = await resp.json()
                    if len(body["data"]) < PAGE_SIZE:
                        break

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.monotonic()
        await asyncio.gather(*(pull(session, n) for n in npo_ids))
        return time.monotonic() - started


def config(sandbox: SandboxProcess, npo_id: str) -> dict[str, Any]:
    return simulated_config(
        sandbox, npo_id, schedule_seconds=3600, page_size=PAGE_SIZE, rate_limit=(100, 10)
    )


async def fresh_npos(sandbox: SandboxProcess, count: int, latency_ms: int) -> list[str]:
    """Create (or re-create: same data, empty request logs) the simulated NPOs."""
    return await simulated_npos(
        sandbox, count, "bench-", offerings=RECORDS, page_size=PAGE_SIZE, latency_ms=latency_ms
    )


async def sweep_span(sandbox: SandboxProcess, npo_ids: list[str], timeout: float) -> float:
    """Wait until every NPO was pulled (3 requests each); seconds from
    the first request to the last."""

    async def done() -> bool:
        stats = await sandbox.call("GET", "/_sandbox/stats")
        return sum(1 for n in npo_ids if stats["requests"].get(n, 0) >= PAGES) == len(npo_ids)

    await until(done, timeout=timeout, what="every NPO pulled", interval=0.2)
    first, last = [], []
    for npo_id in npo_ids:
        times = [datetime.fromisoformat(r["time"]) for r in await sandbox.requests(npo_id)]
        first.append(min(times))
        last.append(max(times))
    return (max(last) - min(first)).total_seconds()


async def one_run(npo_count: int, latency_ms: int, concurrency: int) -> dict[str, float]:
    """One fresh simulator and worker: the baseline and both sweeps, in seconds, and the
    worker's CPU per page in each sweep."""
    with workdir("pull-sweep") as tmp:
        sandbox = await SandboxProcess(tmp).start()
        deployment = Deployment(tmp, "sweep")
        try:
            npo_ids = await fresh_npos(sandbox, npo_count, latency_ms)
            baseline = await baseline_sweep(sandbox.url, npo_ids, concurrency)
            print(f"baseline (bare aiohttp): {baseline:.2f} s")

            npo_ids = await fresh_npos(sandbox, npo_count, latency_ms)
            deployment.write_configs([config(sandbox, n) for n in npo_ids])
            deployment.env["NPO_FETCH_CONCURRENCY"] = str(concurrency)
            # Every simulated NPO is on the simulator's one host: let the worker open
            # as many connections to it as it runs pulls, as it would to as many NPO
            # hosts (the baseline does the same).
            deployment.env["NPO_HTTP_MAX_CONNECTIONS_PER_HOST"] = str(concurrency)
            worker = await deployment.start_worker()
            pid = worker.proc.pid  # type: ignore[union-attr]
            cpu0, threads0 = cpu_seconds(pid), thread_cpu(pid)
            with profiled(pid, "pull-first"):
                first = await sweep_span(sandbox, npo_ids, timeout=900)
                await message_times(
                    deployment.topics["offerings"], npo_count * RECORDS, timeout=900
                )
            first_cpu = cpu_seconds(pid) - cpu0
            print(
                f"first sweep: {first:.2f} s; every record ingested; "
                f"worker CPU by thread: {by_thread(threads0, thread_cpu(pid))}"
            )

            # same data: unchanged records
            npo_ids = await fresh_npos(sandbox, npo_count, latency_ms)
            requests = [
                FetchRequest(
                    npo_id=n, stream="offerings", reason="manual", trace_id=uuid.uuid4().hex
                )
                for n in npo_ids
            ]
            cpu0, threads0 = cpu_seconds(pid), thread_cpu(pid)
            with profiled(pid, "pull-steady"):
                await produce_many(
                    deployment.topics["fetch_requests"],
                    [(r.npo_id.encode(), r.model_dump_json().encode()) for r in requests],
                )
                steady = await sweep_span(sandbox, npo_ids, timeout=900)
            steady_cpu = cpu_seconds(pid) - cpu0
            print(
                f"steady-state sweep: {steady:.2f} s; "
                f"worker CPU by thread: {by_thread(threads0, thread_cpu(pid))}"
            )
        finally:
            await deployment.stop()
            sandbox.stop()

    pages = npo_count * PAGES
    return {
        "baseline": baseline,
        "steady": steady,
        "first": first,
        "steady_cpu_ms": steady_cpu / pages * 1000,
        "first_cpu_ms": first_cpu / pages * 1000,
    }


async def run(npo_count: int, latency_ms: int, concurrency: int) -> BenchResult:
    ideal = -(-npo_count // concurrency) * PAGES * latency_ms / 1000
    runs = [await one_run(npo_count, latency_ms, concurrency) for _ in range(REPEAT)]
    figures = {name: best([r[name] for r in runs], higher_is_better=False) for name in runs[0]}
    baseline, steady, first = figures["baseline"][0], figures["steady"][0], figures["first"][0]
    result = BenchResult(
        bench="pull_sweep",
        title="Pull sweep: N NPOs x 3 pages, one worker, pulled and ingested",
        parameters={
            "NPOs": npo_count,
            "pages each": PAGES,
            "records each": RECORDS,
            "latency per request": f"{latency_ms} ms",
            "concurrent pulls": concurrency,
        },
    )

    def repeated(name: str, key: str, unit: str, **more: Any) -> Figure:
        """The best of the runs' ``key``, its median beside."""
        value, median = figures[key]
        return Figure(name, value, unit, median=median, runs=REPEAT, **more)

    result.figures += [
        Figure("ideal bound ceil(N/C) x pages x latency", ideal, "s"),
        repeated(
            "bare aiohttp, same concurrency", "baseline", "s", baseline=ideal, baseline_name="ideal"
        ),
        repeated(
            "steady-state sweep (records unchanged)",
            "steady",
            "s",
            baseline=ideal,
            baseline_name="ideal",
            target="<= 1.5 x ideal",
            met=steady <= 1.5 * ideal,
        ),
        repeated(
            "first sweep (every record new)",
            "first",
            "s",
            baseline=ideal,
            baseline_name="ideal",
            target="<= 3 x ideal",
            met=first <= 3 * ideal,
        ),
        # The ideal bound is latency alone; bare aiohttp is what this machine's HTTP costs on top
        # of it (the simulator shares the cores): the service's own overhead is the ratio below.
        Figure("steady-state sweep against bare aiohttp", steady, "s", baseline, "bare aiohttp"),
        Figure("first sweep against bare aiohttp", first, "s", baseline, "bare aiohttp"),
        repeated("worker CPU per page, steady state", "steady_cpu_ms", "ms"),
        repeated("worker CPU per page, first sweep (incl. ingestion)", "first_cpu_ms", "ms"),
    ]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--npos", type=int, default=1000)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    calibrate()
    report(asyncio.run(run(args.npos, args.latency_ms, args.concurrency)))


if __name__ == "__main__":
    main()
