"""The push path beside other work: a rebalance mid-call, an NPO that answers after 30 s, and
assignments that reach a worker before the config another worker just stored.

Each counts what the simulated NPO received and what a plain consumer reads on the
enrolment results topic. The rebalance test needs several workers and calls in
flight while one joins; the slow-NPO test one worker whose enrolments of other
NPOs must not wait for the slow one.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from typing import Any

import aiohttp

from npo_integration.partitioning import partition_for
from npo_integration.push.identity import idempotency_key
from npo_integration.push.processor import NO_CONFIG
from tests.integration.conftest import Deployment
from tests.integration.support.kafka import read_all
from tests.integration.support.polling import eventually
from tests.integration.support.processes import SandboxProcess, WorkerProcess
from tests.integration.test_enrolment import (
    PARTITIONS,
    add_npo,
    assignment,
    enrol_requests,
    send,
)

HAND_OVER = re.compile(
    r"hand-over: (\d+) enrolment call\(s\) in flight waited for \((\d+) cancelled"
)


async def results(deployment: Deployment) -> list[dict[str, Any]]:
    return [m.value for m in await read_all(deployment.topics["enrolment_results"])]


async def ready(*workers: WorkerProcess) -> bool:
    """Every worker holds an assignment and none is rebalancing."""
    async with aiohttp.ClientSession() as session:
        for worker in workers:
            try:
                async with session.get(f"{worker.url}/health") as resp:
                    if resp.status != 200:
                        return False
            except aiohttp.ClientError:
                return False
    return True


async def test_a_worker_joining_mid_call_leaves_one_post_and_one_outcome_per_assignment(
    sandbox: SandboxProcess, deployment: Deployment
) -> None:
    # No idempotency at the NPO: a second POST would be a second enrolment. Two calls per NPO
    # and worker at once, so the 10 s calls of 16 assignments stay in flight for about 40 s:
    # the third worker joins while some are (the workers' logs say how many they waited for).
    npo_id = "enr-rebalance"
    env = {"NPO_ENROLMENT_CONCURRENCY_PER_NPO": "2"}
    first = await deployment.start_worker("first", **env)
    await add_npo(
        sandbox,
        first.url,
        deployment.admin_token,
        npo_id,
        honours_idempotency=False,
        lookup=True,
        timeout=20,
    )
    second = await deployment.start_worker("second", **env)
    await eventually(lambda: ready(first, second), timeout=60, what="two workers sharing work")
    await sandbox.set_faults(npo_id, endpoint="enrol", latency_ms=10_000)

    ids = [f"asg-reb-{n}" for n in range(16)]
    for assignment_id in ids:
        await send(deployment, assignment(assignment_id, npo_id))

    async def calls_in_flight() -> bool:
        return len(await enrol_requests(sandbox, npo_id)) >= 2

    await eventually(calls_in_flight, timeout=30, what="enrolment calls reaching the NPO")
    await deployment.start_worker("third", **env)

    async def all_decided() -> list[dict[str, Any]] | None:
        found = [r for r in await results(deployment) if r["assignment_id"] in ids]
        return found if {r["assignment_id"] for r in found} == set(ids) else None

    await eventually(all_decided, timeout=150, what="an outcome for every assignment")

    async def npo_idle() -> bool:  # no call left in flight that could still enrol or decide
        return all(r["status"] is not None for r in await enrol_requests(sandbox, npo_id))

    await eventually(npo_idle, timeout=30, what="every call at the NPO answered")

    outcomes = Counter(
        r["assignment_id"] for r in await results(deployment) if r["assignment_id"] in ids
    )
    assert outcomes == Counter(ids), f"outcomes per assignment: {outcomes}"
    assert all(
        r["status"] == "confirmed" for r in await results(deployment) if r["assignment_id"] in ids
    )
    enrolments = await sandbox.enrolments(npo_id)
    per_assignment = Counter(e["idempotency_key"] for e in enrolments)
    assert per_assignment == Counter(idempotency_key("enrol", i) for i in ids), per_assignment
    assert len(await enrol_requests(sandbox, npo_id)) == len(ids)  # one POST each, none cut off

    # ... and the rebalance did happen mid-call:
    handed_over = [
        (int(waited), int(cancelled))
        for worker in (first, second)
        for waited, cancelled in HAND_OVER.findall(worker.output())
    ]
    assert any(waited for waited, _ in handed_over), (
        f"the third worker joined when no call was in flight: {handed_over}"
    )


async def test_an_npo_answering_after_30_s_delays_only_its_own_enrolments(
    sandbox: SandboxProcess, deployment: Deployment
) -> None:
    # The slow NPO's config asks for a 40 s timeout, within this worker's cap.
    worker = await deployment.start_worker("worker", NPO_HTTP_MAX_CALL_TIMEOUT_SECONDS="45")
    slow, fast = "enr-slow", ["enr-fast-a", "enr-fast-b"]
    await add_npo(sandbox, worker.url, deployment.admin_token, slow, timeout=40)
    for npo_id in fast:
        await add_npo(sandbox, worker.url, deployment.admin_token, npo_id)
    await sandbox.set_faults(slow, endpoint="enrol", latency_ms=30_000)

    slow_ids = [f"asg-slow-{n}" for n in range(4)]  # the slow NPO's slots on this worker, all held
    fast_ids = [f"asg-fast-{n}" for n in range(20)]
    for assignment_id in slow_ids:
        await send(deployment, assignment(assignment_id, slow))

    async def slow_calls_in_flight() -> bool:
        return len(await enrol_requests(sandbox, slow)) == len(slow_ids)

    await eventually(slow_calls_in_flight, timeout=20, what="the slow NPO's calls in flight")
    sent_at = time.monotonic()
    for n, assignment_id in enumerate(fast_ids):
        await send(deployment, assignment(assignment_id, fast[n % 2]))

    async def decided(ids: list[str]) -> list[dict[str, Any]] | None:
        found = [r for r in await results(deployment) if r["assignment_id"] in ids]
        return found if len(found) >= len(ids) else None

    fast_results = await eventually(
        lambda: decided(fast_ids), timeout=20, what="the other NPOs' outcomes"
    )
    fast_took = time.monotonic() - sent_at
    assert not await decided(slow_ids[:1])  # the slow NPO has not answered yet
    assert fast_took < 20 and all(r["status"] == "confirmed" for r in fast_results)

    slow_results = await eventually(
        lambda: decided(slow_ids), timeout=60, what="the slow NPO's outcomes"
    )
    assert sorted(r["assignment_id"] for r in slow_results) == slow_ids
    assert all(r["status"] == "confirmed" for r in slow_results)
    assert len(await enrol_requests(sandbox, slow)) == len(slow_ids)


async def test_assignments_right_after_a_registration_on_another_worker_are_each_enrolled_once(
    sandbox: SandboxProcess, deployment: Deployment
) -> None:
    # Two NPOs per partition, so that each worker stores some configs and reads the others'
    # from the changelog. Each is registered through the first worker (which waits until its
    # own copy holds the config, wherever it was stored) and its assignments are sent at once:
    # about half are handled by the worker that did not store the config, which must see it
    # (or wait for it), never drop them as "no config". Faust used to buffer another worker's
    # config changes until 1,000 had come (tables/declare.py): the registration timed out.
    first = await deployment.start_worker("first")
    second = await deployment.start_worker("second")
    await eventually(lambda: ready(first, second), timeout=60, what="two workers sharing work")
    candidates = (f"enr-fresh-{n}" for n in range(1000))
    npos = [
        next(n for n in candidates if partition_for(n, PARTITIONS) == partition)
        for partition in [*range(PARTITIONS), *range(PARTITIONS)]
    ]
    ids: dict[str, list[str]] = {}
    for npo_id in npos:
        await add_npo(sandbox, first.url, deployment.admin_token, npo_id)
        ids[npo_id] = [f"asg-{npo_id}-{n}" for n in range(8)]
        for assignment_id in ids[npo_id]:
            await send(deployment, assignment(assignment_id, npo_id))
    await send(deployment, assignment("asg-nobody", "enr-never-registered"))
    expected = [i for group in ids.values() for i in group] + ["asg-nobody"]

    async def all_decided() -> list[dict[str, Any]] | None:
        found = [r for r in await results(deployment) if r["assignment_id"] in expected]
        return found if {r["assignment_id"] for r in found} == set(expected) else None

    await eventually(all_decided, timeout=60, what="an outcome for every assignment")
    decided = [r for r in await results(deployment) if r["assignment_id"] in expected]
    assert Counter(r["assignment_id"] for r in decided) == Counter(expected)
    statuses = {r["assignment_id"]: (r["status"], r["reason"]) for r in decided}
    assert statuses.pop("asg-nobody") == ("failed", NO_CONFIG)
    assert set(statuses.values()) == {("confirmed", None)}
    for npo_id in npos:
        keys = Counter(e["idempotency_key"] for e in await sandbox.enrolments(npo_id))
        assert keys == Counter(idempotency_key("enrol", i) for i in ids[npo_id]), npo_id
