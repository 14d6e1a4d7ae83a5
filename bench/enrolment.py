"""Enrolment benchmark: 10,000 assignments over 100 NPOs answering in 100 ms, against the rate-limit
bound; then the same with one more NPO that answers after 30 s.

The bound is what the NPOs' own rate limits allow (each NPO: ``burst`` at once, then
``requests_per_second``), measured from the first outcome to the last on the
enrolment-results topic as a plain consumer reads it. The slow NPO's assignments are
sent first in the second run: if it held the worker, the others would wait behind it.

Usage: .venv/bin/python bench/enrolment.py [--assignments 10000] [--npos 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from pathlib import Path
from typing import Any

from harness import (
    REPEAT,
    SIMULATED_TOKEN,
    BenchResult,
    Deployment,
    Figure,
    best,
    cpu_seconds,
    metric,
    produce_many,
    profiled,
    report,
    simulated_config,
    simulated_npos,
    until,
    workdir,
)

from tests.integration.support.kafka import BOOTSTRAP
from tests.integration.support.processes import SandboxProcess

RATE = 10.0
BURST = 10
LATENCY_MS = 100
SLOW_MS = 30_000


def config(sandbox: SandboxProcess, npo_id: str, timeout: float) -> dict[str, Any]:
    return simulated_config(
        sandbox, npo_id, enrol=True, rate_limit=(RATE, BURST), timeout_seconds=timeout
    )


def assignments(npo_ids: list[str], count: int, run: str) -> list[tuple[bytes, bytes]]:
    out = []
    for n in range(count):
        npo_id = npo_ids[n % len(npo_ids)]
        assignment_id = f"{run}-{n:06d}"
        event = {
            "event_id": str(uuid.uuid4()),
            "event_type": "candidate_assignment.created",
            "occurred_at": "2026-11-30T09:00:00Z",
            "assignment_id": assignment_id,
            "candidate": {
                "candidate_id": f"cand-{assignment_id}",
                "email": f"{assignment_id}@example.org",
                "first_name": "Ada",
                "last_name": "Lovelace",
            },
            "offering": {"offering_id": "off-1", "npo_id": npo_id, "npo_offering_ref": "off-0001"},
        }
        out.append((assignment_id.encode(), json.dumps(event).encode()))
    return out


async def outcome_span(topic: str, prefix: str, expected: int, timeout: float) -> tuple[float, int]:
    """Seconds from the first to the last confirmed outcome of
    assignments starting with ``prefix``."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        while not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        times: list[float] = []
        failed = 0
        deadline = time.monotonic() + timeout
        while len(times) + failed < expected:
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"{len(times)} confirmed, {failed} failed of {expected} after {timeout:.0f} s"
                )
            batch = await consumer.getmany(*tps, timeout_ms=500)
            for records in batch.values():
                for record in records:
                    value = json.loads(record.value)
                    if not value["assignment_id"].startswith(prefix):
                        continue
                    if value["status"] == "confirmed":
                        times.append(record.timestamp / 1000)
                    else:
                        failed += 1
        return max(times) - min(times), failed
    finally:
        await consumer.stop()


async def one_run(
    sandbox: SandboxProcess, tmp: Path, name: str, count: int, npo_count: int, slow: bool
) -> tuple[float, int, float]:
    """A fresh deployment and fresh NPOs: the seconds from the first outcome
    to the last, failures, CPU s."""
    npo_ids = await simulated_npos(
        sandbox, npo_count, f"{name}-", offerings=3, latency_ms=LATENCY_MS
    )
    configs = [config(sandbox, n, 10.0) for n in npo_ids]
    if slow:
        await sandbox.add_npo(
            f"{name}-slow",
            flavour="simple",
            auth={"kind": "bearer", "token": SIMULATED_TOKEN},
            offerings=3,
        )
        await sandbox.set_faults(f"{name}-slow", endpoint="any", latency_ms=SLOW_MS)
        configs.append(config(sandbox, f"{name}-slow", SLOW_MS / 1000 + 15))
    deployment = Deployment(tmp, name)
    deployment.write_configs(configs)
    # Every NPO is on the simulator's one host: allow the connections as many NPO hosts would get.
    deployment.env["NPO_HTTP_MAX_CONNECTIONS"] = "1000"
    deployment.env["NPO_HTTP_MAX_CONNECTIONS_PER_HOST"] = "1000"
    try:
        worker = await deployment.start_worker()
        pid = worker.proc.pid  # type: ignore[union-attr]

        async def configs_applied() -> bool:
            return await metric(worker.url, "npo_config_changes_total") >= len(configs)

        await until(configs_applied, timeout=120, what="the NPO configs to be applied")
        # The slow NPO's assignments go first: if it held the worker, the
        # others would wait behind them.
        messages = (assignments([f"{name}-slow"], 100, f"{name}-s") if slow else []) + assignments(
            npo_ids, count, f"{name}-x"
        )
        cpu0 = cpu_seconds(pid)
        with profiled(pid, f"enrolment-{name}"):
            await produce_many(deployment.topics["candidate_assignments"], messages)
            span, failed = await outcome_span(
                deployment.topics["enrolment_results"], f"{name}-x", count, 600
            )
        cpu = cpu_seconds(pid) - cpu0
        if slow:
            calls = len(await sandbox.requests(f"{name}-slow"))
            print(f"  {calls} call(s) to the NPO answering after {SLOW_MS // 1000} s meanwhile")
        return span, failed, cpu
    finally:
        await deployment.stop()


async def run(count: int, npo_count: int) -> BenchResult:
    per_npo = count / npo_count
    bound = (per_npo - BURST) / RATE + LATENCY_MS / 1000  # each NPO's share, at its rate limit
    rates_a: list[float] = []
    rates_b: list[float] = []
    cpus: list[float] = []
    failed = 0
    with workdir("enrolment") as tmp:
        sandbox = await SandboxProcess(tmp).start()
        try:
            for run_number in range(REPEAT):
                span_a, failed_a, cpu_a = await one_run(
                    sandbox, tmp, f"plain{run_number}", count, npo_count, False
                )
                print(
                    f"{count} enrolments in {span_a:.2f} s (bound {bound:.2f} s), {failed_a} failed"
                )
                span_b, failed_b, _ = await one_run(
                    sandbox, tmp, f"slow{run_number}", count, npo_count, True
                )
                print(
                    f"beside an NPO answering after {SLOW_MS // 1000} s: "
                    f"{span_b:.2f} s, {failed_b} failed"
                )
                rates_a.append(count / span_a)
                rates_b.append(count / span_b)
                cpus.append(cpu_a / count * 1000)
                failed += failed_a + failed_b
        finally:
            sandbox.stop()
    rate_a, median_a = best(rates_a, higher_is_better=True)
    rate_b, median_b = best(rates_b, higher_is_better=True)
    cpu, median_cpu = best(cpus, higher_is_better=False)

    result = BenchResult(
        bench="enrolment",
        title="Enrolment: assignments over many NPOs, one worker, against the NPOs' rate limits",
        parameters={
            "assignments": count,
            "NPOs": npo_count,
            "NPO latency": f"{LATENCY_MS} ms",
            "rate limit per NPO": f"{RATE:g}/s, burst {BURST}",
            "concurrency": "1,000 per worker, 4 per NPO (defaults)",
        },
    )
    limit = count / bound
    result.figures += [
        Figure("rate-limit bound", limit, "enrolments/s"),
        Figure(
            "enrolments",
            rate_a,
            "enrolments/s",
            limit,
            "bound",
            target=">= 0.8 x bound",
            met=rate_a >= 0.8 * limit,
            median=median_a,
            runs=REPEAT,
        ),
        Figure(
            "enrolments beside an NPO answering after 30 s",
            rate_b,
            "enrolments/s",
            limit,
            "bound",
            target=">= 0.8 x bound",
            met=rate_b >= 0.8 * limit,
            median=median_b,
            runs=REPEAT,
        ),
        Figure("worker CPU per enrolment", cpu, "ms", median=median_cpu, runs=REPEAT),
    ]
    result.notes.append(f"failed outcomes in all runs: {failed}")
    result.notes.append(
        "each run has a fresh worker and fresh NPOs; the slow NPO's 100 assignments are sent first"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--assignments", type=int, default=10_000)
    parser.add_argument("--npos", type=int, default=100)
    args = parser.parse_args()
    report(asyncio.run(run(args.assignments, args.npos)))


if __name__ == "__main__":
    main()
