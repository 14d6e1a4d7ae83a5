"""Sweep benchmark: one worker pulls N simulated NPOs of 3 pages each, 50 ms latency per request.

Prints the service's sweep time next to two yardsticks measured or derived in the
same run, on the same machine, against the same simulator:

- the ideal bound: ceil(N / concurrency) * pages * latency, what perfect
  scheduling with the worker's concurrency could do;
- a baseline: a bare aiohttp loop (no Kafka, no Faust, no tables) pulling the
  same NPOs with the same concurrency.

The ratios, not the seconds, are the figure to compare across machines.
Usage: make bench  (or: .venv/bin/python bench/pull_sweep.py --npos 1000)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

import aiohttp
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.support.kafka import BOOTSTRAP  # noqa: E402
from tests.integration.support.processes import SandboxProcess, WorkerProcess  # noqa: E402

PAGES = 3
PAGE_SIZE = 10
RECORDS = PAGE_SIZE * (PAGES - 1) + PAGE_SIZE // 2  # the third page is short: exactly 3 requests per pull


async def baseline_sweep(sandbox_url: str, npo_ids: list[str], concurrency: int) -> float:
    """The same pulls with nothing but aiohttp: the cost of the HTTP work alone."""
    limit = asyncio.Semaphore(concurrency)
    headers = {"Authorization": "Bearer bench"}

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


async def service_sweep(sandbox: SandboxProcess, npo_ids: list[str], concurrency: int, workdir: Path) -> float:
    suffix = uuid.uuid4().hex[:8]
    configs = [
        {
            "npo_id": npo_id,
            "display_name": npo_id,
            "base_url": sandbox.npo_url(npo_id),
            "auth": {"kind": "bearer", "token": "bench"},
            "streams": {"offerings": {"path": "/api/offerings", "records_path": "data", "schedule_seconds": 3600,
                                      "pagination": {"style": "page_number", "page_size": PAGE_SIZE}}},
            "transform": {"kind": "plugin", "name": "simple"},
            "rate_limit": {"requests_per_second": 100, "burst": 10},
        }
        for npo_id in npo_ids
    ]
    config_file = workdir / "bench-npos.json"
    config_file.write_text(json.dumps(configs))
    env = {
        "NPO_APP_ID": f"npo-bench-{suffix}",
        "NPO_BROKER_URL": f"kafka://{BOOTSTRAP}",
        "NPO_SECRETS_KEYS": Fernet.generate_key().decode(),
        "NPO_ALLOW_PRIVATE_NPO_URLS": "true",
        "NPO_CONFIG_FILE": str(config_file),
        "NPO_FETCH_CONCURRENCY": str(concurrency),
        "NPO_LOG_LEVEL": "warning",
        **{f"NPO_TOPIC_{t.upper()}": f"bench-{suffix}.{t}" for t in (
            "npo_assessed", "candidate_assignments", "assignment_updated", "offerings", "config_commands",
            "fetch_requests", "raw_records", "enrolment_results", "enrolment_links", "dead_letters")},
    }
    worker = WorkerProcess("bench-worker", env, workdir)
    try:
        await worker.start(timeout=120)
        deadline = time.monotonic() + 600
        while True:
            stats = await sandbox.call("GET", "/_sandbox/stats")
            done = sum(1 for n in npo_ids if stats["requests"].get(n, 0) >= PAGES)
            if done == len(npo_ids):
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"sweep incomplete after 600 s: {done}/{len(npo_ids)} NPOs pulled")
            await asyncio.sleep(0.5)
        first, last = [], []
        for npo_id in npo_ids:
            times = [datetime.fromisoformat(r["time"]) for r in await sandbox.requests(npo_id)]
            first.append(min(times))
            last.append(max(times))
        origin = min(first)
        starts = sorted((f - origin).total_seconds() for f in first)
        durations = sorted((b - a).total_seconds() for a, b in zip(first, last))
        print(f"pull starts after the first: p50 {_pct(starts, 50):.2f} s, p90 {_pct(starts, 90):.2f} s, "
              f"last {starts[-1]:.2f} s; one pull (3 pages): p50 {_pct(durations, 50):.2f} s, "
              f"p90 {_pct(durations, 90):.2f} s")
        return (max(last) - origin).total_seconds()
    finally:
        worker.stop()


def _pct(values: list[float], pct: int) -> float:
    return values[min(len(values) - 1, len(values) * pct // 100)]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--npos", type=int, default=1000)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="npo-bench-") as tmp:
        workdir = Path(tmp)
        sandbox = await SandboxProcess(workdir).start()
        try:
            created = await sandbox.call("POST", "/_sandbox/bulk", {
                "count": args.npos, "prefix": "bench-", "flavour": "simple", "offerings": RECORDS,
                "page_size": PAGE_SIZE, "latency_ms": args.latency_ms, "auth": {"kind": "bearer", "token": "bench"},
            })
            npo_ids = created["npo_ids"]
            baseline = await baseline_sweep(sandbox.url, npo_ids, args.concurrency)
            await sandbox.call("POST", "/_sandbox/bulk", {  # fresh request logs, same data
                "count": args.npos, "prefix": "bench-", "flavour": "simple", "offerings": RECORDS,
                "page_size": PAGE_SIZE, "latency_ms": args.latency_ms, "auth": {"kind": "bearer", "token": "bench"},
            })
            sweep = await service_sweep(sandbox, npo_ids, args.concurrency, workdir)
        finally:
            sandbox.stop()

    ideal = -(-args.npos // args.concurrency) * PAGES * args.latency_ms / 1000
    print(f"NPOs: {args.npos}, pages each: {PAGES}, latency: {args.latency_ms} ms, concurrency: {args.concurrency}")
    print(f"ideal bound (ceil(N/C) x pages x latency): {ideal:.2f} s")
    print(f"baseline (bare aiohttp, same concurrency): {baseline:.2f} s  = {baseline / ideal:.2f} x ideal")
    print(f"service sweep (scheduler -> Kafka -> pull -> raw topic): {sweep:.2f} s  "
          f"= {sweep / ideal:.2f} x ideal, {sweep / baseline:.2f} x baseline")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    asyncio.run(main())
