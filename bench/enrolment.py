"""Enrolment benchmark: 10,000 assignments over 100 NPOs answering in 100 ms, against the rate-limit
bound; then the same with one more NPO that answers after 30 s.

The bound is what the NPOs' own rate limits allow (each NPO: ``burst`` at once, then
``requests_per_second``), measured from the first outcome to the last on the
enrolment-results topic as a plain consumer reads it. The slow NPO's assignments are
sent first in the second run: if it held the worker, the others would wait behind it.

What this machine allows beside the bound: a plain loop (its own process, like the worker)
reads the same assignments with aiokafka, posts each to its NPO with aiohttp within the
same limits (the service's token bucket, 4 calls per NPO), and produces one result each:
no state, no once-only protocol, no links. Its rate against the bound says how far the
machine itself is from the target (the simulated NPOs and the broker share its cores).

Usage: .venv/bin/python bench/enrolment.py [--assignments 10000] [--npos 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from harness import (
    ENROL_ENDPOINT,
    REPEAT,
    ROOT,
    SIMULATED_TOKEN,
    BenchResult,
    Deployment,
    Figure,
    best,
    calibrate,
    cpu_seconds,
    metric,
    plain_clients,
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


# --- the plain loop (what the machine allows), run as its own process ----------------------------

PER_NPO_CALLS = 4
"""Calls at once per NPO, the service's default (``NPO_ENROLMENT_CONCURRENCY_PER_NPO``)."""


async def plain_loop(source: str, target: str, expected: int, npos_file: str) -> None:
    """Each assignment posted to its NPO within its limits, one result produced each."""
    import aiohttp

    from npo_integration.http.ratelimit import TokenBucket
    from npo_integration.models.npo_config import RateLimitConfig

    with open(npos_file) as file:  # noqa: ASYNC230 (once, before the loop starts)
        urls: dict[str, str] = json.load(file)
    limit = RateLimitConfig(requests_per_second=RATE, burst=BURST)
    buckets = {npo_id: TokenBucket(limit) for npo_id in urls}
    slots = {npo_id: asyncio.Semaphore(PER_NPO_CALLS) for npo_id in urls}
    consumer, producer = plain_clients(source)
    connector = aiohttp.TCPConnector(limit=1000, limit_per_host=1000)
    headers = {"Authorization": f"Bearer {SIMULATED_TOKEN}"}

    async def enrol(value: bytes) -> None:
        event = json.loads(value)
        npo_id = event["offering"]["npo_id"]
        candidate = event["candidate"]
        body = {
            "candidate": {
                "email": candidate["email"],
                "first_name": candidate["first_name"],
                "last_name": candidate["last_name"],
                "external_id": candidate["candidate_id"],
            },
            "offering_id": event["offering"]["npo_offering_ref"],
        }
        ref, ok = None, False
        async with slots[npo_id]:
            await buckets[npo_id].acquire()
            try:
                async with session.post(
                    f"{urls[npo_id]}{ENROL_ENDPOINT['path']}",
                    json=body,
                    headers={**headers, "Idempotency-Key": event["assignment_id"]},
                ) as response:
                    created = response.status < 300
                    ref = (await response.json()).get("enrolment_id") if created else None
                    ok = created  # only once its answer was read
            except (aiohttp.ClientError, ValueError) as exc:  # counted as failed, not a hang
                print(f"plain loop: {event['assignment_id']}: {exc!r}", file=sys.stderr)
        result = {
            "assignment_id": event["assignment_id"],
            "status": "confirmed" if ok else "failed",
            "npo_enrolment_ref": ref,
        }
        key = event["assignment_id"].encode()
        await (await producer.send(target, key=key, value=json.dumps(result).encode()))

    await consumer.start()
    await producer.start()
    async with aiohttp.ClientSession(connector=connector) as session:
        tasks: list[asyncio.Task[None]] = []
        try:
            while len(tasks) < expected:
                batch = await consumer.getmany(timeout_ms=500, max_records=1000)
                for records in batch.values():
                    tasks += [asyncio.create_task(enrol(record.value)) for record in records]
            await asyncio.gather(*tasks)
        finally:
            await consumer.stop()
            await producer.stop()
    print(f"cpu_seconds={time.process_time():.3f}")  # read by one_plain_run


async def one_plain_run(
    sandbox: SandboxProcess, tmp: Path, name: str, count: int, npo_count: int
) -> tuple[float, int, float]:
    """The plain loop over fresh NPOs: the seconds from the first result to the last, failures,
    and the CPU seconds of its process (start-up included: an upper bound)."""
    npo_ids = await simulated_npos(
        sandbox, npo_count, f"{name}-", offerings=3, latency_ms=LATENCY_MS
    )
    deployment = Deployment(tmp, name)
    source, target = f"{deployment.prefix}.plain-in", f"{deployment.prefix}.plain-out"
    await deployment.create_topics([source, target])
    npos_file = tmp / f"{name}-npos.json"
    npos_file.write_text(json.dumps({n: sandbox.npo_url(n) for n in npo_ids}))
    await produce_many(source, assignments(npo_ids, count, f"{name}-x"))
    plain = subprocess.Popen(  # noqa: ASYNC220 (the loop awaits its results on Kafka meanwhile)
        [sys.executable, __file__, "--plain-loop", source, target, str(count), str(npos_file)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        span, failed = await outcome_span(target, f"{name}-x", count, 600)
    except BaseException:
        plain.kill()  # its results did not all come: not left running behind the error
        plain.communicate()
        raise
    out, _ = plain.communicate(timeout=60)
    cpu = float(out.rpartition("cpu_seconds=")[2] or "nan")
    return span, failed, cpu


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
    rates_plain: list[float] = []
    cpus_plain: list[float] = []
    rates_a: list[float] = []
    rates_b: list[float] = []
    cpus: list[float] = []
    failed = 0
    with workdir("enrolment") as tmp:
        sandbox = await SandboxProcess(tmp).start()
        try:
            for run_number in range(REPEAT):
                span_plain, failed_plain, cpu_plain = await one_plain_run(
                    sandbox, tmp, f"bare{run_number}", count, npo_count
                )
                print(
                    f"plain loop: {count} enrolments in {span_plain:.2f} s, {failed_plain} failed"
                )
                rates_plain.append(count / span_plain)
                cpus_plain.append(cpu_plain / count * 1000)
                failed += failed_plain
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
    rate_plain, median_plain = best(rates_plain, higher_is_better=True)
    rate_a, median_a = best(rates_a, higher_is_better=True)
    rate_b, median_b = best(rates_b, higher_is_better=True)
    cpu, median_cpu = best(cpus, higher_is_better=False)
    cpu_plain, median_cpu_plain = best(cpus_plain, higher_is_better=False)

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
            "plain loop: aiokafka and aiohttp, the same limits",
            rate_plain,
            "enrolments/s",
            limit,
            "bound",
            median=median_plain,
            runs=REPEAT,
        ),
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
        Figure(
            "enrolments against the plain loop",
            rate_a,
            "enrolments/s",
            rate_plain,
            "plain loop",
        ),
        Figure(
            "worker CPU per enrolment",
            cpu,
            "ms",
            cpu_plain,
            "plain loop",
            median=median_cpu,
            runs=REPEAT,
        ),
        Figure(
            "plain loop CPU per enrolment (its start-up included)",
            cpu_plain,
            "ms",
            median=median_cpu_plain,
            runs=REPEAT,
        ),
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
    parser.add_argument("--plain-loop", nargs=4, metavar=("SOURCE", "TARGET", "COUNT", "NPOS"))
    args = parser.parse_args()
    if args.plain_loop:
        source, target, count, npos_file = args.plain_loop
        asyncio.run(plain_loop(source, target, int(count), npos_file))
        return
    calibrate()
    report(asyncio.run(run(args.assignments, args.npos)))


if __name__ == "__main__":
    main()
