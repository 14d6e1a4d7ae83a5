"""Registry benchmark: N NPO configs arriving on spotlight.npo-assessed (the seed's
three-year figure: 100,000), applied by one worker; its memory; its restart after SIGKILL;
the admin list, a page at a time.

- apply rate: from the first config stored to the last, by the worker's
  ``npo_config_changes_total``; beside it a plain aiokafka loop over the same
  messages that validates each config and seals its secret (what registering
  costs without the service's bookkeeping);
- worker RSS with every config stored, beside the RSS of a worker with none;
- restart: the worker SIGKILLed, started again on its data directory: seconds until
  ``/health`` answers 200 (tables recovered) and the last NPO is readable;
- the admin list: one page of 100, and every page of 1,000.

The configs are the simulated ``simple`` NPO's (examples/npos/simple.json) with pulls
disabled: pulls are measured by the sweep and scheduler benches.

Usage: .venv/bin/python bench/registry.py [--npos 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
import uuid
from typing import Any

import aiohttp
from harness import (
    ROOT,
    BenchResult,
    Deployment,
    Figure,
    by_thread,
    calibrate,
    cpu_seconds,
    metric,
    plain_clients,
    produce_many,
    profiled,
    report,
    rss_mb,
    thread_cpu,
    until,
    workdir,
)

TEMPLATE = json.loads((ROOT / "examples" / "npos" / "simple.json").read_text())


def config(npo_id: str) -> dict[str, Any]:
    document = json.loads(json.dumps(TEMPLATE))
    document.update(
        npo_id=npo_id,
        display_name=f"Bench NPO {npo_id}",
        base_url=f"https://{npo_id}.example.org/api",
    )
    document["auth"] = {"kind": "bearer", "token": f"token-of-{npo_id}"}
    for stream in document["streams"].values():
        stream["enabled"] = False
    return document


def assessed(npo_ids: list[str]) -> list[tuple[bytes, bytes]]:
    return [
        (
            npo_id.encode(),
            json.dumps(
                {
                    "event_id": str(uuid.uuid4()),
                    "event_type": "npo.assessed",
                    "occurred_at": "2026-11-30T09:00:00Z",
                    "npo_id": npo_id,
                    "integration": config(npo_id),
                }
            ).encode(),
        )
        for npo_id in npo_ids
    ]


async def plain_loop(source: str, target: str, expected: int) -> None:
    """Validate and seal each config, produce a command: registering
    without the service's bookkeeping."""
    from cryptography.fernet import Fernet

    from npo_integration.models.assessment import NpoAssessed
    from npo_integration.registry.config_input import decode_with_config

    box = Fernet(Fernet.generate_key())
    consumer, producer = plain_clients(source)
    await consumer.start()
    await producer.start()
    done = 0
    try:
        while done < expected:
            batch = await consumer.getmany(timeout_ms=500, max_records=1000)
            futures = []
            for records in batch.values():
                for record in records:
                    event = decode_with_config(NpoAssessed, record.value, at=("integration",))
                    assert event.integration is not None
                    document = event.integration.model_dump(mode="json", context={"redact": True})
                    document["sources"][0]["auth"]["token"] = box.encrypt(b"token").decode()
                    futures.append(
                        await producer.send(
                            target, key=record.key, value=json.dumps(document).encode()
                        )
                    )
            if futures:
                await asyncio.gather(*futures)
                await consumer.commit()
                done += len(futures)
    finally:
        await consumer.stop()
        await producer.stop()


async def applied_rate(url: str, count: int, timeout: float) -> float:
    """Configs stored per second, from the first stored to the last, by the worker's counter."""
    first: list[float] = []

    async def all_applied() -> bool:
        value = await metric(url, "npo_config_changes_total")
        if value > 0 and not first:
            first.append(time.monotonic())
        return value >= count

    finished = await until(
        all_applied, timeout=timeout, what=f"{count} configs applied", interval=0.1
    )
    return (count - 1) / max(finished - first[0], 1e-6)


async def admin_get(url: str, token: str, path: str) -> Any:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{url}{path}", headers={"Authorization": f"Bearer {token}"}) as resp,
    ):
        resp.raise_for_status()
        return await resp.json()


async def run(count: int) -> BenchResult:
    npo_ids = [f"reg-{n:06d}" for n in range(count)]
    with workdir("registry") as tmp:
        deployment = Deployment(tmp, "registry")
        baseline_source = f"{deployment.prefix}.plain-in"
        baseline_target = f"{deployment.prefix}.plain-out"
        await deployment.create_topics([baseline_source, baseline_target])
        messages = assessed(npo_ids)
        await produce_many(baseline_source, messages)
        started = time.monotonic()
        # Blocks the loop on purpose: the baseline is timed alone, with nothing else running.
        plain = subprocess.run(  # noqa: ASYNC221
            [
                sys.executable,
                __file__,
                "--plain-loop",
                baseline_source,
                baseline_target,
                str(count),
            ],
            cwd=ROOT,
            check=True,
        )
        # includes the loop's start: a lower bound for it
        plain_rate = count / (time.monotonic() - started)
        print(f"plain loop: {plain_rate:,.0f} configs/s ({plain.returncode})")
        empty = Deployment(tmp, "registry-empty")
        try:
            rss_empty = rss_mb((await empty.start_worker()).proc.pid)  # type: ignore[union-attr]
        finally:
            await empty.stop()
        try:
            # Every config waits on the topic before the worker starts:
            # the rate is the worker's alone.
            await deployment.create_topics(["npo_assessed"])
            await produce_many(deployment.topics["npo_assessed"], messages)
            worker = await deployment.start_worker()
            pid = worker.proc.pid  # type: ignore[union-attr]
            cpu_before, threads_before = cpu_seconds(pid), thread_cpu(pid)
            with profiled(pid, "registry"):
                apply_rate = await applied_rate(worker.url, count, timeout=1800)
            print(
                f"worker CPU while applying: {cpu_seconds(pid) - cpu_before:.1f} s over "
                f"{count / apply_rate:.1f} s wall; by thread: "
                + by_thread(threads_before, thread_cpu(pid))
            )
            rss_full = rss_mb(pid)
            print(
                f"applied {apply_rate:,.0f} configs/s; "
                f"RSS {rss_empty:.0f} MB empty, {rss_full:.0f} MB full"
            )

            token = deployment.admin_token
            page_started = time.monotonic()
            first_page = await admin_get(worker.url, token, "/admin/npos?limit=100")
            page_seconds = time.monotonic() - page_started
            assert len(first_page["npos"]) == 100 and first_page["next"] == npo_ids[99]
            walk_started = time.monotonic()
            seen, after = 0, ""
            while True:
                page = await admin_get(worker.url, token, f"/admin/npos?limit=1000&after={after}")
                seen += len(page["npos"])
                if page["next"] is None:
                    break
                after = page["next"]
            walk_seconds = time.monotonic() - walk_started
            assert seen == count, f"the pages listed {seen} of {count} NPOs"
            print(
                f"admin list: a page of 100 in {page_seconds * 1000:.0f} ms; "
                f"all {count} in {walk_seconds:.1f} s"
            )

            worker.kill()
            restart_started = time.monotonic()
            # same name: the same data directory
            restarted = await deployment.start_worker(timeout=600)
            restart_seconds = time.monotonic() - restart_started
            last = await admin_get(restarted.url, token, f"/admin/npos/{npo_ids[-1]}")
            assert last["npo_id"] == npo_ids[-1] and "token-of" not in json.dumps(last)
            print(f"restart after SIGKILL to healthy: {restart_seconds:.1f} s")
        finally:
            await deployment.stop()

    result = BenchResult(
        bench="registry",
        title="Registry: NPO configs from spotlight.npo-assessed, one worker",
        parameters={
            "NPO configs": count,
            "config": "examples/npos/simple.json (pulls disabled)",
            "partitions": 8,
        },
    )
    result.figures += [
        Figure("plain loop: validate, seal, produce", plain_rate, "configs/s"),
        Figure(
            "configs applied",
            apply_rate,
            "configs/s",
            plain_rate,
            "plain loop",
            target=">= 2,000/s",
            met=apply_rate >= 2000,
        ),
        Figure(
            "worker RSS with every config",
            rss_full,
            "MB",
            rss_empty,
            "a worker with none",
            target="<= 600 MB",
            met=rss_full <= 600,
        ),
        Figure(
            "restart after SIGKILL to healthy",
            restart_seconds,
            "s",
            target="<= 60 s",
            met=restart_seconds <= 60,
        ),
        Figure("admin list, one page of 100", page_seconds * 1000, "ms"),
        Figure(f"admin list, all {count:,} in pages of 1,000", walk_seconds, "s"),
    ]
    return result


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--plain-loop":
        asyncio.run(plain_loop(sys.argv[2], sys.argv[3], int(sys.argv[4])))
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--npos", type=int, default=100_000)
    args = parser.parse_args()
    calibrate()
    report(asyncio.run(run(args.npos)))


if __name__ == "__main__":
    main()
