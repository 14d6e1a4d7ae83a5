"""Erasing an NPO (it left the platform): with the default retention (30 days) its record states
and kept payloads become tombstones on the next sweeps, while another NPO's stay; its current
config on the config table's changelog holds no secret, sealed or not, and its earlier versions
(which held the sealed token) are tombstones on the history's changelog. Read with a plain
consumer; a resume is refused, the status says ``erased``."""

from __future__ import annotations

import json
from typing import Any

from tests.integration.conftest import Deployment
from tests.integration.support.admin import admin
from tests.integration.support.kafka import Message, read_all
from tests.integration.support.polling import eventually
from tests.integration.support.processes import SandboxProcess
from tests.integration.test_ingestion import add_simple_npo, events_of, simple_config

GONE, KEPT = "er-gone", "er-kept"


def _changelog(deployment: Deployment, table: str) -> str:
    return f"{deployment.env['NPO_APP_ID']}-{table}-changelog"


def _latest(messages: list[Message], match: str) -> dict[str, Any]:
    """The keys ``match`` or ``match/...`` as a compacted changelog would keep them: the last
    value of each (``None``: a tombstone)."""
    latest: dict[str, Any] = {}
    for m in sorted(messages, key=lambda m: (m.partition, m.offset)):
        if m.key is not None and (m.key == match or m.key.startswith(f"{match}/")):
            latest[m.key] = m.value
    return latest


def _auths(value: Any) -> list[Any]:
    """Every ``auth`` object inside a stored config version."""
    found: list[Any] = []
    if isinstance(value, dict):
        for key, inner in value.items():
            found += [inner] if key == "auth" else _auths(inner)
    elif isinstance(value, list):
        for inner in value:
            found += _auths(inner)
    return found


async def test_an_erased_npos_state_goes_at_once_and_its_secrets_with_it(
    sandbox: SandboxProcess, deployment: Deployment
) -> None:
    for npo_id in (GONE, KEPT):
        await add_simple_npo(sandbox, npo_id, 3)
    deployment.write_configs([simple_config(n, sandbox.npo_url(n)) for n in (GONE, KEPT)])
    # the default NPO_STATE_RETENTION_DAYS (30): only the erase makes the state due
    worker = await deployment.start_worker(NPO_STATE_SWEEP_TICK_SECONDS="1")
    url, token = worker.url, deployment.admin_token
    states = _changelog(deployment, "npo-record-state")
    payloads = _changelog(deployment, "npo-record-payloads")
    configs = _changelog(deployment, "npo-configs")
    versions = _changelog(deployment, "npo-config-versions")

    async def all_published() -> bool:
        return [len(await events_of(deployment, n)) for n in (GONE, KEPT)] == [3, 3]

    await eventually(all_published, timeout=40, what="3 offerings of each NPO on the platform")
    for npo_id in (GONE, KEPT):
        kept = _latest(await read_all(states), npo_id)
        assert len(kept) == 3 and all(v is not None for v in kept.values()), kept
    before = _latest(await read_all(configs), GONE)[GONE]
    sealed = [auth["token"] for auth in _auths(before)]
    assert sealed and all(s and s != f"tok-{GONE}" for s in sealed), before  # stored sealed

    status, body = await admin(url, token, "POST", f"/admin/npos/{GONE}/erase?wait=true")
    assert status == 200 and body["status"] == "applied", body

    async def gone() -> bool:
        for changelog in (states, payloads):
            latest = _latest(await read_all(changelog), GONE)
            if not (len(latest) == 3 and all(v is None for v in latest.values())):
                return False
        return True

    await eventually(gone, timeout=30, what=f"tombstones for {GONE}'s 3 states and 3 payloads")
    for changelog in (states, payloads):
        kept = _latest(await read_all(changelog), KEPT)
        assert len(kept) == 3 and all(v is not None for v in kept.values()), kept

    current = _latest(await read_all(configs), GONE)[GONE]
    assert current["change"] == "erase" and current["config"]["active"] is False, current
    assert _auths(current) and all(auth == {"kind": "none"} for auth in _auths(current)), current
    history = _latest(await read_all(versions), GONE)
    assert history[f"{GONE}/1"] is None, history  # the version that held the sealed token
    assert history[f"{GONE}/2"]["change"] == "erase", history
    stored = json.dumps([current, history])
    for secret in [*sealed, f"tok-{GONE}", "sealed:"]:
        assert secret not in stored
    kept_config = _latest(await read_all(configs), KEPT)[KEPT]
    assert kept_config["config"]["active"] is True

    status, body = await admin(url, token, "GET", f"/admin/npos/{GONE}/status")
    assert status == 200 and body["state"] == "erased", body
    status, body = await admin(url, token, "GET", "/admin/npos")
    assert status == 200, body
    erased = {npo["npo_id"]: npo["erased"] for npo in body["npos"]}
    assert erased[GONE] is True and erased[KEPT] is False, body
    status, body = await admin(url, token, "POST", f"/admin/npos/{GONE}/resume?wait=true")
    assert status == 409 and "erased" in body["error"], body
    status, body = await admin(url, token, "POST", f"/admin/npos/{GONE}/erase")
    assert status == 200 and body["status"] == "unchanged", body
