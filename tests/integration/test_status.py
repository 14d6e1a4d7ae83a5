"""One NPO's status and every NPO's health, asked of either of two workers over the real broker.

Four NPOs, one on each partition, so each worker owns some: one whose API refuses the configured
token (its pulls fail), one whose mapping misses a field (its records stay unprocessed and are
dead-lettered), two healthy. Whichever worker is asked, the answer comes from the NPO's owner
(named in it) with every worker's share of the enrolments, and the list holds every NPO once.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from typing import Any

from npo_integration.partitioning import partition_for
from tests.integration.conftest import Deployment
from tests.integration.support.admin import admin
from tests.integration.support.polling import eventually
from tests.integration.support.processes import SandboxProcess, WorkerProcess
from tests.integration.test_ingestion import (
    add_cursor_npo,
    add_simple_npo,
    cursor_config,
    simple_config,
)


def one_per_partition(partitions: int) -> list[str]:
    by_partition: dict[int, str] = {}
    while len(by_partition) < partitions:
        npo_id = f"st-{uuid.uuid4().hex[:8]}"
        by_partition.setdefault(partition_for(npo_id, partitions), npo_id)
    return [by_partition[p] for p in range(partitions)]


async def both_hold_partitions(workers: list[WorkerProcess]) -> bool:
    for worker in workers:
        status, body = await admin(worker.url, None, "GET", "/health")
        if status != 200 or body["rebalancing"] or not body["active_partitions"]:
            return False
    return True


async def test_status_with_two_workers(sandbox: SandboxProcess, deployment: Deployment) -> None:
    broken, badmap, *healthy = one_per_partition(int(deployment.env["NPO_TOPIC_PARTITIONS"]))
    for npo_id in (broken, *healthy):
        await add_simple_npo(sandbox, npo_id, offerings=2)
    await add_cursor_npo(sandbox, badmap, 3)
    configs = [
        simple_config(broken, sandbox.npo_url(broken), auth={"kind": "bearer", "token": "wrong"}),
        cursor_config(badmap, sandbox.npo_url(badmap), title_path="title_that_is_not_there"),
        *(simple_config(n, sandbox.npo_url(n)) for n in healthy),
    ]
    deployment.write_configs(configs)
    workers = [await deployment.start_worker("first"), await deployment.start_worker("second")]
    token = deployment.admin_token
    await eventually(
        lambda: both_hold_partitions(workers), timeout=60, what="both workers holding partitions"
    )

    # Pulled again by their owners now: the recent pulls are kept by the worker that pulls, and
    # the first worker pulled every NPO before the second joined and took half of them.
    for npo_id in (broken, badmap, *healthy):
        status, body = await admin(workers[0].url, token, "POST", f"/admin/npos/{npo_id}/fetch")
        assert status == 202, body

    async def settled_status(url: str, npo_id: str) -> dict[str, Any] | None:
        """The status once the NPO's first pull ended and both workers answered their share."""
        status, body = await admin(url, token, "GET", f"/admin/npos/{npo_id}/status")
        if status != 200 or not body["owner"]["holds_partition"]:
            return None
        if not body["enrolments"]["complete"] or len(body["enrolments"]["workers"]) != 2:
            return None
        ended = all(s["last_run_at"] for s in body["streams"]) and bool(body["recent_pulls"])
        if npo_id == badmap and body["dead_letters"]["last_24h"] < 3:
            return None
        return body if ended else None

    owners: dict[str, str] = {}
    for npo_id in (broken, badmap, *healthy):
        answers = [
            await eventually(
                lambda u=w.url, n=npo_id: settled_status(u, n), timeout=60, what=f"{npo_id} status"
            )
            for w in workers
        ]
        assert {a["owner"]["url"] for a in answers} == {answers[0]["owner"]["url"]}
        owners[npo_id] = answers[0]["owner"]["url"]
        body = answers[0]
        assert body["state"] == "active" and body["config_version"] == 1
        assert {w["url"] for w in body["enrolments"]["workers"]} == {w.url for w in workers}
        assert body["enrolments"]["counts"] == {}
        (stream,) = body["streams"]
        assert stream["stream"] == "offerings"
        if npo_id == broken:
            assert body["health"] == "failing"
            assert stream["consecutive_failures"] >= 1 and stream["last_error"]
            assert stream["last_success_at"] is None
            assert not body["recent_pulls"][0]["ok"] and body["recent_pulls"][0]["error"]
        else:
            assert stream["last_success_at"] and stream["consecutive_failures"] == 0
            assert body["health"] == "ok"
            assert body["recent_pulls"][0]["ok"]
        if npo_id == badmap:
            assert body["unprocessed"]["count"] == 3
            (top,) = body["unprocessed"]["top_reasons"]
            assert top["count"] == 3 and "title" in top["reason"]
            assert body["dead_letters"]["last_24h"] == 3
            assert all("title" in d["reason"] for d in body["dead_letters"]["recent"])
        else:
            assert body["unprocessed"]["count"] == 0
            assert body["dead_letters"]["last_24h"] == 0
    assert set(owners.values()) == {w.url for w in workers}, owners

    # The list: every NPO once, from both workers, stalest first (the broken one never pulled)
    for worker in workers:
        status, page = await admin(worker.url, token, "GET", "/admin/status/npos")
        assert status == 200, page
        assert page["complete"] and page["total"] == 4
        assert {w["url"] for w in page["workers"]} == {w.url for w in workers}
        lines = {line["npo_id"]: line for line in page["npos"]}
        assert set(lines) == set(owners)
        assert page["npos"][0]["npo_id"] == broken
        assert lines[broken]["health"] == "failing" and lines[broken]["never_succeeded"]
        assert lines[badmap]["unprocessed"] == 3 and lines[badmap]["dead_letters_24h"] == 3
        assert {n: line["worker_url"] for n, line in lines.items()} == owners
    status, page = await admin(
        workers[0].url, token, "GET", "/admin/status/npos?sort=npo_id&limit=2"
    )
    assert [line["npo_id"] for line in page["npos"]] == sorted(owners)[:2]
    status, body = await admin(workers[0].url, token, "GET", "/admin/status/npos?sort=age")
    assert status == 400 and body == {"error": "sort: one of staleness, npo_id"}

    # The CLI: one line per NPO, the broken one first
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("NPO_")},
        "NPO_ADMIN_URL": workers[1].url,
        "NPO_ADMIN_TOKEN": token,
    }
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "npo_integration.cli", "npos", "status"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    printed = done.stdout.splitlines()
    assert len(printed) == 4 and printed[0].startswith(f"failing\t{broken}\tactive"), printed
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "npo_integration.cli", "npos", "status", "no-such-npo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.strip().endswith("HTTP 404: unknown npo_id 'no-such-npo'"), done.stderr
