"""Scaling: the same load on a fleet of 1, then 2 workers, on this machine.

Each fleet is a fresh deployment (8 partitions, standby replicas on, as the Helm chart runs it)
and runs three loads in turn, once every worker is up and the partitions are spread:

- ingestion: raw record pages produced straight onto the raw topic (bench/ingest.py's records),
  timed on the offerings topic;
- enrolments: assignments over NPOs with a rate limit (bench/enrolment.py's), timed on the
  outcomes topic;
- pulls: NPOs registered through spotlight.npo-assessed with the fleet running, each pulled once
  (3 pages, bench/pull_sweep.py's), timed at the simulated NPO, with a per-worker pull
  concurrency (``NPO_FETCH_CONCURRENCY``) as a fleet would run it.

It reports each load's rate per fleet, the speed-up from 1 to 2 workers, the worker CPU per unit
of work (all workers together) and how the work spread over the workers. The machine's core
count is part of the figures: with 2 cores shared by the broker, the simulator and the workers,
a CPU-bound load cannot double here; the CPU per unit says what a larger machine would get.
``bench/deployment_report.py`` turns the JSON into docs/deployment.md's sizing table.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import enrolment
import ingest
import pull_sweep
from harness import (
    REPEAT,
    BenchResult,
    Deployment,
    Figure,
    best,
    calibrate,
    cpu_seconds,
    message_times,
    metric,
    produce_many,
    rate,
    report,
    rss_mb,
    simulated_npos,
    until,
    workdir,
)

from tests.integration.support.processes import SandboxProcess, WorkerProcess

FLEETS = (1, 2)
PARTITIONS = 8
INGEST_NPOS = 200
INGEST_RECORDS = int(os.environ.get("SCALING_RECORDS", "20000"))
ENROL_NPOS = 100
ASSIGNMENTS = int(os.environ.get("SCALING_ASSIGNMENTS", "4000"))
PULL_NPOS = int(os.environ.get("SCALING_PULL_NPOS", "1000"))
PULL_LATENCY_MS = 50
FETCH_CONCURRENCY = 16  # per worker: a fleet's pulls in flight grow with its workers
STANDBY = int(os.environ.get("SCALING_STANDBY", "1"))  # 0: what the standby replicas cost


def assessed(configs: list[dict[str, Any]]) -> list[tuple[bytes, bytes]]:
    """NPO-assessed events carrying ``configs``: how the platform registers NPOs."""
    return [
        (
            c["npo_id"].encode(),
            json.dumps(
                {
                    "event_id": str(uuid.uuid4()),
                    "event_type": "npo.assessed",
                    "occurred_at": "2026-11-30T09:00:00Z",
                    "npo_id": c["npo_id"],
                    "integration": c,
                }
            ).encode(),
        )
        for c in configs
    ]


async def health(worker: WorkerProcess) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{worker.url}/health", timeout=aiohttp.ClientTimeout(total=3)) as resp,
    ):
        body: dict[str, Any] = await resp.json()
        return {**body, "status_code": resp.status}


async def spread(workers: list[WorkerProcess], alone_holds: int | None) -> list[int]:
    """Wait until every worker is ready, none rebalancing, and (for a fleet) each holds fewer
    partitions than one worker held alone (the split happened; global tables' partitions are on
    every worker); return each one's active partitions."""
    held: list[int] = []

    async def settled() -> bool:
        nonlocal held
        states = [await health(w) for w in workers]
        held = [s["active_partitions"] for s in states]
        ready = all(s["status_code"] == 200 for s in states)
        return ready and (alone_holds is None or all(0 < h < alone_holds for h in held))

    await until(settled, timeout=180, what="the partitions to spread over the fleet", interval=0.5)
    return held


def disk_mb(path: Path) -> float:
    """Size of a worker's RocksDB directory."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def fleet_cpu(workers: list[WorkerProcess]) -> float:
    return sum(cpu_seconds(w.proc.pid) for w in workers if w.proc)


async def per_worker(workers: list[WorkerProcess], name: str) -> list[float]:
    return [await metric(w.url, name) for w in workers]


async def one_fleet(
    sandbox: SandboxProcess, tmp: Path, size: int, alone_holds: int | None
) -> dict[str, Any]:
    name = f"f{size}-{uuid.uuid4().hex[:6]}"
    enrol_npos = await simulated_npos(
        sandbox, ENROL_NPOS, f"{name}-enrol-", offerings=3, latency_ms=enrolment.LATENCY_MS
    )
    pull_npos = await simulated_npos(
        sandbox,
        PULL_NPOS,
        f"{name}-pull-",
        offerings=pull_sweep.RECORDS,
        page_size=pull_sweep.PAGE_SIZE,
        latency_ms=PULL_LATENCY_MS,
    )
    ingest_npos = [f"{name}-ingest-{i:04d}" for i in range(INGEST_NPOS)]

    deployment = Deployment(tmp, f"scale{size}", partitions=PARTITIONS)
    deployment.write_configs(
        [ingest.config(n) for n in ingest_npos]
        + [enrolment.config(sandbox, n, 10.0) for n in enrol_npos]
    )
    deployment.env.update(
        {
            "NPO_TABLE_STANDBY_REPLICAS": str(STANDBY),
            "NPO_FETCH_CONCURRENCY": str(FETCH_CONCURRENCY),
            # Every simulated NPO is on one host: as many connections as NPO hosts would get.
            "NPO_HTTP_MAX_CONNECTIONS": "1000",
            "NPO_HTTP_MAX_CONNECTIONS_PER_HOST": "1000",
        }
    )
    await deployment.create_topics(["raw_records", "offerings", "npo_assessed"])
    try:
        workers = list(
            await asyncio.gather(
                *(deployment.start_worker(f"w{i + 1}", timeout=240) for i in range(size))
            )
        )
        held = await spread(workers, alone_holds)
        configs = len(ingest_npos) + len(enrol_npos)

        async def configs_applied() -> bool:
            return sum(await per_worker(workers, "npo_config_changes_total")) >= configs

        await until(configs_applied, timeout=300, what="the NPO configs to be applied")
        print(f"fleet of {size}: up, partitions held {held}")

        # Ingestion.
        cpu0 = fleet_cpu(workers)
        await produce_many(
            deployment.topics["raw_records"],
            ingest.raw_messages(ingest_npos, INGEST_RECORDS, revision=1, page_size=50),
        )
        times = await message_times(deployment.topics["offerings"], INGEST_RECORDS, timeout=900)
        ingest_rate = rate(times)
        ingest_cpu = (fleet_cpu(workers) - cpu0) / INGEST_RECORDS * 1000
        ingest_share = await per_worker(workers, "npo_ingested_records_total")
        print(f"  ingestion: {ingest_rate:,.0f} records/s")

        # Enrolments.
        cpu0 = fleet_cpu(workers)
        await produce_many(
            deployment.topics["candidate_assignments"],
            enrolment.assignments(enrol_npos, ASSIGNMENTS, f"{name}-x"),
        )
        span, failed = await enrolment.outcome_span(
            deployment.topics["enrolment_results"], f"{name}-x", ASSIGNMENTS, 600
        )
        enrol_rate = (ASSIGNMENTS - failed - 1) / span if span > 0 else 0.0
        enrol_cpu = (fleet_cpu(workers) - cpu0) / ASSIGNMENTS * 1000
        per_npo_rate = ASSIGNMENTS / ENROL_NPOS / span if span > 0 else 0.0
        print(f"  enrolments: {enrol_rate:,.0f}/s ({failed} failed)")

        # Pulls: registered now, with every worker running; each NPO pulled once on registration.
        cpu0 = fleet_cpu(workers)
        pulls0 = await per_worker(workers, "npo_pulls_total")
        await produce_many(
            deployment.topics["npo_assessed"],
            assessed([pull_sweep.config(sandbox, n) for n in pull_npos]),
        )
        sweep = await pull_sweep.sweep_span(sandbox, pull_npos, timeout=900)
        await message_times(
            deployment.topics["offerings"],
            INGEST_RECORDS + PULL_NPOS * pull_sweep.RECORDS,
            timeout=900,
        )
        pages = PULL_NPOS * pull_sweep.PAGES
        pull_cpu = (fleet_cpu(workers) - cpu0) / pages * 1000
        pulls1 = await per_worker(workers, "npo_pulls_total")
        pull_share = [after - before for after, before in zip(pulls1, pulls0, strict=True)]
        print(f"  pulls: {PULL_NPOS} NPOs x {pull_sweep.PAGES} pages in {sweep:.2f} s")
        rss = [rss_mb(w.proc.pid) for w in workers if w.proc]
        disk = [disk_mb(Path(w.env["NPO_DATA_DIR"])) for w in workers]
        return {
            "held": held,
            "ingest_rate": ingest_rate,
            "ingest_cpu_ms": ingest_cpu,
            "ingest_share": ingest_share,
            "enrol_rate": enrol_rate,
            "enrol_cpu_ms": enrol_cpu,
            "enrol_failed": failed,
            "enrol_per_npo_rate": per_npo_rate,
            "pull_pages_rate": pages / sweep,
            "pull_sweep_s": sweep,
            "pull_cpu_ms": pull_cpu,
            "pull_share": pull_share,
            "rss_mb": rss,
            "disk_mb": disk,
        }
    finally:
        await deployment.stop()


def share(values: list[float]) -> str:
    total = sum(values) or 1.0
    return " / ".join(f"{v / total:.0%}" for v in values)


RATES = ("ingest_rate", "enrol_rate", "pull_pages_rate")
COSTS = ("ingest_cpu_ms", "enrol_cpu_ms", "pull_cpu_ms")


def combine(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The best of repeated runs per figure (highest rate, lowest CPU), medians beside them; the
    rest (partitions held, shares, memory, disk) from the last run."""
    fleet = dict(runs[-1])
    for key in RATES + COSTS:
        fleet[key], fleet[f"{key}_median"] = best(
            [r[key] for r in runs], higher_is_better=key in RATES
        )
    fleet["runs"] = len(runs)
    return fleet


async def run() -> BenchResult:
    runs: dict[int, list[dict[str, Any]]] = {size: [] for size in FLEETS}
    load = os.getloadavg()[0]
    with workdir("scaling") as tmp:
        sandbox = await SandboxProcess(tmp).start()
        try:
            alone: int | None = None
            for _ in range(REPEAT):  # alternated, so that a noisy minute hits both fleets
                for size in FLEETS:
                    split_from = alone if size > 1 else None
                    runs[size].append(await one_fleet(sandbox, tmp, size, split_from))
                    if size == 1:
                        alone = runs[size][-1]["held"][0]
        finally:
            sandbox.stop()
    fleets = {size: combine(r) for size, r in runs.items()}

    result = BenchResult(
        bench="scaling" if STANDBY == 1 else f"scaling_standby{STANDBY}",
        title="Scaling: the same load on 1, then 2 workers",
        parameters={
            "cores": os.cpu_count(),
            "partitions": PARTITIONS,
            "standby replicas": STANDBY,
            "ingestion": f"{INGEST_RECORDS} records over {INGEST_NPOS} NPOs",
            "enrolments": f"{ASSIGNMENTS} over {ENROL_NPOS} NPOs, "
            f"rate limit {enrolment.RATE:.0f}/s burst {enrolment.BURST} per NPO, "
            f"latency {enrolment.LATENCY_MS} ms",
            "pulls": f"{PULL_NPOS} NPOs x {pull_sweep.PAGES} pages, "
            f"latency {PULL_LATENCY_MS} ms, {FETCH_CONCURRENCY} concurrent pulls per worker",
            "on the same machine": "broker, simulated NPOs and every worker",
            "NPOs registered": INGEST_NPOS + ENROL_NPOS + PULL_NPOS,
            "load average at start (1 min)": round(load, 2),
        },
    )
    loads = (
        ("ingestion", "ingest_rate", "records/s", "ingest_cpu_ms", "ms CPU per record"),
        ("enrolments", "enrol_rate", "enrolments/s", "enrol_cpu_ms", "ms CPU per enrolment"),
        ("pulls", "pull_pages_rate", "pages/s", "pull_cpu_ms", "ms CPU per page"),
    )
    one, two = fleets[1], fleets[2]
    for load, key, unit, cpu_key, cpu_unit in loads:
        for size, fleet in fleets.items():
            label = "1 worker" if size == 1 else f"{size} workers"
            base = {} if size == 1 else {"baseline": one[key], "baseline_name": "1 worker"}
            cpu_base = {} if size == 1 else {"baseline": one[cpu_key], "baseline_name": "1 worker"}
            result.figures.append(
                Figure(
                    f"{load}, {label}",
                    fleet[key],
                    unit,
                    median=fleet[f"{key}_median"],
                    runs=fleet["runs"],
                    **base,
                )
            )
            result.figures.append(
                Figure(
                    f"{load}, CPU, {label}",
                    fleet[cpu_key],
                    cpu_unit,
                    median=fleet[f"{cpu_key}_median"],
                    runs=fleet["runs"],
                    **cpu_base,
                )
            )
    for size, fleet in fleets.items():
        result.figures.append(Figure(f"worker RSS, fleet of {size}", max(fleet["rss_mb"]), "MB"))
        result.figures.append(
            Figure(f"worker RocksDB on disk, fleet of {size}", max(fleet["disk_mb"]), "MB")
        )
    result.notes += [
        f"partitions held (actives, all topics): 1 worker {one['held']}, 2 workers {two['held']}",
        f"share of the work in the fleet of 2 (worker 1 / worker 2): ingestion "
        f"{share(two['ingest_share'])}, pulls {share(two['pull_share'])}",
        f"enrolments per NPO per second: 1 worker {one['enrol_per_npo_rate']:.1f}, "
        f"2 workers {two['enrol_per_npo_rate']:.1f} (the NPO's limit: {enrolment.RATE:.0f}/s)",
        f"failed enrolments: 1 worker {one['enrol_failed']}, 2 workers {two['enrol_failed']}",
    ]
    result.parameters["fleets"] = {str(size): fleet for size, fleet in fleets.items()}
    return result


def main() -> None:
    started = time.monotonic()
    calibrate()
    report(asyncio.run(run()))
    print(f"\n({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
