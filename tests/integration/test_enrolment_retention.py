"""Bounded state for active NPOs: settled enrolments (confirmed, cancelled) become tombstones on
the ``npo-enrolments`` changelog once settled for ``NPO_ENROLMENT_RETENTION_DAYS`` (0 here),
read with a plain consumer; an enrolment still retrying against an NPO that answers 503 is kept."""

from __future__ import annotations

from typing import Any

from npo_integration.partitioning import partition_for
from tests.integration.conftest import Deployment
from tests.integration.support.admin import admin
from tests.integration.support.kafka import read_all
from tests.integration.support.polling import eventually
from tests.integration.support.processes import SandboxProcess
from tests.integration.test_enrolment import (
    PARTITIONS,
    add_npo,
    assignment,
    enrol_requests,
    same_partition_as,
    send,
    wait_results,
)


def _changelog(deployment: Deployment, table: str) -> str:
    return f"{deployment.env['NPO_APP_ID']}-{table}-changelog"


async def _latest(changelog: str, keys: set[str]) -> dict[str, Any]:
    """The last value of each of ``keys``, as compaction would keep it (``None``: a tombstone)."""
    latest: dict[str, Any] = {}
    for m in sorted(await read_all(changelog), key=lambda m: (m.partition, m.offset)):
        if m.key in keys:
            latest[m.key] = m.value
    return latest


async def _sweep_steps(deployment: Deployment, partition: int) -> int:
    """``enrolment.expire_settled`` steps sent to ``partition`` of the enrolment commands."""
    return sum(
        1
        for m in await read_all(deployment.topics["enrolment_commands"])
        if m.partition == partition
        and isinstance(m.value, dict)
        and m.value.get("event_type") == "enrolment.expire_settled"
    )


async def test_settled_enrolments_of_an_active_npo_become_tombstones_and_a_retrying_one_stays(
    sandbox: SandboxProcess, deployment: Deployment
) -> None:
    worker = await deployment.start_worker(
        NPO_ENROLMENT_RETENTION_DAYS="0",
        NPO_STATE_SWEEP_TICK_SECONDS="1",
        NPO_STATE_SWEEP_BATCH="2",
    )
    token = deployment.admin_token
    await add_npo(sandbox, worker.url, token, "ret-ok")
    await add_npo(sandbox, worker.url, token, "ret-down", max_attempts=50)
    await sandbox.set_faults("ret-down", endpoint="any", down=True)

    # Three on one partition: with batches of 2 they take two steps there.
    confirmed = ["asg-ret-1", same_partition_as("asg-ret-1", "asg-ret-a")]
    confirmed.append(same_partition_as("asg-ret-1", "asg-ret-b"))
    for assignment_id in confirmed:
        await send(deployment, assignment(assignment_id, "ret-ok"))
    await send(deployment, assignment("asg-ret-cancelled", "ret-ok", cancelled=True))
    await send(deployment, assignment("asg-ret-down", "ret-down"))
    settled = {*confirmed, "asg-ret-cancelled"}

    for assignment_id in confirmed:
        (result,) = await wait_results(deployment, assignment_id)
        assert result["status"] == "confirmed", result
    (result,) = await wait_results(deployment, "asg-ret-cancelled")
    assert result["status"] == "cancelled", result

    states = _changelog(deployment, "npo-enrolments")
    due = _changelog(deployment, "npo-enrolment-due")
    everything = {*settled, "asg-ret-down"}

    async def tombstones() -> dict[str, Any] | None:
        latest = await _latest(states, everything)
        return latest if all(k in latest and latest[k] is None for k in settled) else None

    latest = await eventually(
        tombstones, timeout=30, what="tombstones for the 4 settled enrolments of ret-ok"
    )
    assert latest["asg-ret-down"] is not None, latest
    assert latest["asg-ret-down"]["status"] in ("pending", "sending"), latest["asg-ret-down"]

    # More sweep steps reach its partition while the NPO answers 503 (or its circuit is open):
    # the retrying enrolment stays, still due.
    steps_before = await _sweep_steps(deployment, partition_for("asg-ret-down", PARTITIONS))

    async def swept_again() -> bool:
        steps = await _sweep_steps(deployment, partition_for("asg-ret-down", PARTITIONS))
        return steps >= steps_before + 3

    await eventually(swept_again, timeout=30, what="3 more sweep steps on asg-ret-down's partition")
    latest = await _latest(states, {"asg-ret-down"})
    assert latest["asg-ret-down"] is not None
    assert latest["asg-ret-down"]["status"] in ("pending", "sending"), latest["asg-ret-down"]
    assert (await _latest(due, {"asg-ret-down"})).get("asg-ret-down") is not None
    assert len(await enrol_requests(sandbox, "ret-down")) >= 1
    assert await sandbox.enrolments("ret-down") == []
    assert (await wait_results(deployment, "asg-ret-1"))[0]["status"] == "confirmed"
    assert len(await sandbox.enrolments("ret-ok")) == 3  # nothing enrolled twice at the NPO

    status, metrics_text = await admin(worker.url, token, "GET", "/metrics")
    assert status == 200
    assert 'npo_state_purged_total{table="npo-enrolments"} 4.0' in str(metrics_text)


async def test_an_erased_npo_with_only_unsettled_enrolments_loses_them(
    sandbox: SandboxProcess, deployment: Deployment
) -> None:
    """An NPO with no record states and no enrolment links here (its records never pulled, no
    enrolment confirmed) is not reached by its own purge, which starts from those: the
    per-partition step deletes its enrolments once it is erased, one still retrying too, with the
    default retentions; another NPO's settled enrolment stays."""
    worker = await deployment.start_worker(NPO_STATE_SWEEP_TICK_SECONDS="1")
    token = deployment.admin_token
    await add_npo(sandbox, worker.url, token, "ret-erased", max_attempts=50)
    await add_npo(sandbox, worker.url, token, "ret-stays")
    await sandbox.set_faults("ret-erased", endpoint="any", down=True)
    await send(deployment, assignment("asg-era-kept", "ret-stays"))
    (result,) = await wait_results(deployment, "asg-era-kept")
    assert result["status"] == "confirmed", result
    await send(deployment, assignment("asg-era-retrying", "ret-erased"))
    states = _changelog(deployment, "npo-enrolments")

    async def retrying() -> bool:
        latest = await _latest(states, {"asg-era-retrying"})
        return latest.get("asg-era-retrying") is not None

    await eventually(retrying, timeout=30, what="asg-era-retrying stored, retrying")
    assert await enrol_requests(sandbox, "ret-erased")  # tried, refused: no link
    status, body = await admin(worker.url, token, "POST", "/admin/npos/ret-erased/erase?wait=true")
    assert status == 200, body

    async def tombstone() -> dict[str, Any] | None:
        latest = await _latest(states, {"asg-era-retrying", "asg-era-kept"})
        return (
            latest if "asg-era-retrying" in latest and latest["asg-era-retrying"] is None else None
        )

    latest = await eventually(tombstone, timeout=30, what="a tombstone for asg-era-retrying")
    assert latest["asg-era-kept"] is not None, latest  # another NPO's settled one: 90 days
