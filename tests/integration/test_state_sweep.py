"""Bounded state: a deactivated NPO's record states (and kept payloads, unprocessed records,
links) are deleted by the state sweep once its retention is over, as tombstones on the tables'
changelogs read with a plain consumer; a paused NPO and an active one keep theirs."""

from __future__ import annotations

from typing import Any

from tests.integration.conftest import Deployment
from tests.integration.support.admin import admin
from tests.integration.support.kafka import Message, read_all
from tests.integration.support.polling import eventually
from tests.integration.support.processes import SandboxProcess
from tests.integration.test_ingestion import add_simple_npo, events_of, simple_config


def _changelog(deployment: Deployment, table: str) -> str:
    return f"{deployment.env['NPO_APP_ID']}-{table}-changelog"


def _latest(messages: list[Message], npo_id: str) -> dict[str, Any]:
    """The NPO's keys as a compacted changelog would keep them: the last value of each key
    (``None``: a tombstone)."""
    latest: dict[str, Any] = {}
    for m in sorted(messages, key=lambda m: (m.partition, m.offset)):
        if m.key is not None and m.key.startswith(f"{npo_id}/"):
            latest[m.key] = m.value
    return latest


async def test_a_deactivated_npos_record_states_become_tombstones_and_others_stay(
    sandbox: SandboxProcess, deployment: Deployment
) -> None:
    for npo_id in ("sw-gone", "sw-paused", "sw-kept"):
        await add_simple_npo(sandbox, npo_id, 3)
    deployment.write_configs(
        [simple_config(n, sandbox.npo_url(n)) for n in ("sw-gone", "sw-paused", "sw-kept")]
    )
    worker = await deployment.start_worker(
        NPO_STATE_RETENTION_DAYS="0", NPO_STATE_SWEEP_TICK_SECONDS="1", NPO_STATE_SWEEP_BATCH="2"
    )
    states = _changelog(deployment, "npo-record-state")
    payloads = _changelog(deployment, "npo-record-payloads")

    async def all_published() -> bool:
        counts = [len(await events_of(deployment, n)) for n in ("sw-gone", "sw-paused", "sw-kept")]
        return counts == [3, 3, 3]

    await eventually(all_published, timeout=40, what="3 offerings of each NPO on the platform")
    before = await read_all(states)
    for npo_id in ("sw-gone", "sw-paused", "sw-kept"):
        kept = _latest(before, npo_id)
        assert len(kept) == 3 and all(v is not None for v in kept.values()), kept

    for npo_id, action in (("sw-gone", "deactivate"), ("sw-paused", "pause")):
        status, body = await admin(
            worker.url, deployment.admin_token, "POST", f"/admin/npos/{npo_id}/{action}?wait=true"
        )
        assert status == 200, body

    async def gone() -> bool:
        for changelog in (states, payloads):
            latest = _latest(await read_all(changelog), "sw-gone")
            if not (len(latest) == 3 and all(v is None for v in latest.values())):
                return False
        return True

    # Batches of 2: the 3 states and 3 kept payloads take three purge steps.
    await eventually(gone, timeout=30, what="tombstones for sw-gone's 3 states and 3 payloads")
    for changelog in (states, payloads):
        after = await read_all(changelog)
        for npo_id in ("sw-paused", "sw-kept"):
            kept = _latest(after, npo_id)
            assert len(kept) == 3 and all(v is not None for v in kept.values()), (npo_id, kept)

    status, metrics_text = await admin(worker.url, deployment.admin_token, "GET", "/metrics")
    assert status == 200
    assert 'npo_state_purged_total{table="npo-record-state"} 3.0' in str(metrics_text)
    assert 'npo_state_purged_total{table="npo-record-payloads"} 3.0' in str(metrics_text)
    status, body = await admin(
        worker.url, deployment.admin_token, "GET", "/admin/npos/sw-gone/status"
    )
    assert status == 200, body
