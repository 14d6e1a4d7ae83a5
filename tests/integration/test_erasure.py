"""A candidate's right to erasure over the real broker, two workers and the simulated NPO.

A candidate is enrolled twice (results confirmed, links published), their progress is ingested,
and one progress record of theirs waits unprocessed; another candidate is enrolled beside them.
The operator erases the first through the CLI. Afterwards a plain consumer reads every changelog
topic of the deployment: the latest value of each key holds nothing of the erased candidate
(enrolments blanked, links and the unprocessed record tombstoned), the other candidate's data
is as it was, the ``candidate.erased`` event names what was removed, the admin views show no
personal data, and what arrives for the candidate afterwards is dropped.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from tests.integration.conftest import Deployment
from tests.integration.support.admin import admin
from tests.integration.support.kafka import BOOTSTRAP, Message, produce, read_all
from tests.integration.support.polling import eventually
from tests.integration.support.processes import ROOT, SandboxProcess, WorkerProcess
from tests.integration.test_enrolment import ENROL, TOKEN, wait_results
from tests.integration.test_enrolment_cluster import ready

NPO = "erz"
ERASED = {"id": "cand-erase", "email": "ada.erase@example.org", "user": "user-ada-erase"}
KEPT = {"id": "cand-keep", "email": "bob.keep@example.org", "user": "user-bob-keep"}
PERSONAL = ("ada.erase@example.org", "user-ada-erase", "Adelaide")
"""What must be gone: the erased candidate's email, NPO user id and (unusual) first name."""


def created(assignment_id: str, who: dict[str, str], offering: str, first: str) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": "candidate_assignment.created",
        "occurred_at": "2026-11-28T09:05:00Z",
        "assignment_id": assignment_id,
        "candidate": {
            "candidate_id": who["id"],
            "email": who["email"],
            "first_name": first,
            "last_name": "Example",
            "npo_user_ref": who["user"],
        },
        "offering": {"offering_id": "off-5", "npo_id": NPO, "npo_offering_ref": offering},
    }


def early_record(enrolment_id: str, offering: str, user: str) -> dict[str, Any]:
    payload = {
        "enrolment_id": enrolment_id,
        "offering_id": offering,
        "candidate_external_id": user,
        "state": "in_progress",
        "percent": 5,
    }
    return {
        "record_key": f"{NPO}/assignments/{enrolment_id}",
        "content_hash": uuid.uuid4().hex,
        "payload": payload,
    }


def npo_config(base_url: str) -> dict[str, Any]:
    pages = {"style": "page_number", "page_size": 50}
    return {
        "npo_id": NPO,
        "display_name": "Erasure test",
        "base_url": base_url,
        "auth": {"kind": "bearer", "token": TOKEN},
        "streams": {
            "assignments": {
                "path": "/api/progress",
                "records_path": "data",
                "record_id_path": "enrolment_id",
                "pagination": pages,
                "schedule_seconds": 3600,  # pulled when the test asks
            },
        },
        "enrolment": {"enabled": True, "enrol": ENROL, "idempotency_key": "honoured"},
        "transform": {"kind": "plugin", "name": "simple"},
    }


async def send(deployment: Deployment, event: dict[str, Any]) -> None:
    await produce(deployment.topics["candidate_assignments"], event["assignment_id"], event)


async def fetch(worker: WorkerProcess, deployment: Deployment) -> None:
    status, body = await admin(
        worker.url, deployment.admin_token, "POST", f"/admin/npos/{NPO}/fetch?stream=assignments"
    )
    assert status == 202, body


async def unprocessed(worker: WorkerProcess, deployment: Deployment) -> list[dict[str, Any]]:
    status, body = await admin(
        worker.url, deployment.admin_token, "GET", f"/admin/npos/{NPO}/records?state=unprocessed"
    )
    assert status == 200, body
    records: list[dict[str, Any]] = body["records"]
    return records


def latest(messages: list[Message]) -> dict[str, Any]:
    """The latest value of each key (``None``: a tombstone), as compaction would leave it."""
    values: dict[str, Any] = {}
    for message in sorted(messages, key=lambda m: (m.partition, m.offset)):
        assert message.key is not None
        values[message.key] = message.value
    return values


async def changelogs(deployment: Deployment) -> dict[str, dict[str, Any]]:
    app_id = deployment.env["NPO_APP_ID"]
    names = ["npo-enrolments", "npo-enrolment-links", "npo-unprocessed-records", "npo-record-state"]
    return {
        name: latest(await read_all(f"{app_id}-{name}-changelog", settle=1.0)) for name in names
    }


def assert_erased(tables: dict[str, dict[str, Any]]) -> None:
    for name, values in tables.items():
        for key, value in values.items():
            assert not any(p in json.dumps(value) for p in PERSONAL), (name, key, value)
            if any(p in key for p in PERSONAL):
                assert value is None, (name, key, value)


async def topic_configs(*names: str) -> dict[str, dict[str, str]]:
    """Each topic's configuration as the broker describes it."""
    client = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    await client.start()
    try:
        answers = await client.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
        )
    finally:
        await client.close()
    found: dict[str, dict[str, str]] = {}
    for answer in answers:
        for _error, _message, _type, name, entries in answer.resources:
            found[name] = {entry[0]: entry[1] for entry in entries}
    return found


async def run_cli(worker: WorkerProcess, deployment: Deployment, *args: str) -> str:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("NPO_")},
        "NPO_ADMIN_URL": worker.url,
        "NPO_ADMIN_TOKEN": deployment.admin_token,
    }
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "npo_integration.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


async def test_an_erased_candidate_leaves_no_personal_data_in_any_table_and_others_keep_theirs(
    sandbox: SandboxProcess, deployment: Deployment
) -> None:
    deployment.env["NPO_INGEST_RETRY_BACKOFF_SECONDS"] = "3600"  # unprocessed stays unprocessed
    deployment.env["NPO_PERSONAL_DATA_RETENTION_DAYS"] = "2"
    deployment.env["NPO_ERASURE_COMPACTION_HOURS"] = "12"
    first = await deployment.start_worker("first")

    # The topics the service created: candidate data kept 2 days, erased values compacted in 12 h.
    app_id = deployment.env["NPO_APP_ID"]
    enrolments_changelog = f"{app_id}-npo-enrolments-changelog"
    configs = await topic_configs(
        deployment.topics["dead_letters"], deployment.topics["offerings"], enrolments_changelog
    )
    assert configs[deployment.topics["dead_letters"]]["retention.ms"] == str(2 * 86400 * 1000)
    assert configs[deployment.topics["offerings"]]["retention.ms"] != str(2 * 86400 * 1000)
    assert configs[enrolments_changelog]["max.compaction.lag.ms"] == str(12 * 3600 * 1000)
    assert configs[enrolments_changelog]["cleanup.policy"] == "compact"
    await sandbox.add_npo(
        NPO, flavour="simple", auth={"kind": "bearer", "token": TOKEN}, offerings=3
    )
    status, body = await admin(
        first.url,
        deployment.admin_token,
        "PUT",
        f"/admin/npos/{NPO}?wait=true",
        npo_config(sandbox.npo_url(NPO)),
    )
    assert status == 200, body
    second = await deployment.start_worker("second")
    await eventually(lambda: ready(first, second), timeout=90, what="two workers sharing work")
    workers = (first, second)

    # Enrolled: the erased candidate twice, the kept one once; results confirmed, links stored.
    await send(deployment, created("asg-ada-1", ERASED, "off-0001", "Adelaide"))
    await send(deployment, created("asg-bob-1", KEPT, "off-0001", "Robert"))
    (ada_1,) = await wait_results(deployment, "asg-ada-1")
    (bob_1,) = await wait_results(deployment, "asg-bob-1")
    assert ada_1["status"] == bob_1["status"] == "confirmed"

    # Their progress at the NPO is ingested (pulled until the links are there).
    async def progress_of(*assignment_ids: str) -> bool:
        await fetch(first, deployment)
        updated = await read_all(deployment.topics["assignment_updated"])
        return set(assignment_ids) <= {m.key for m in updated}

    await eventually(
        lambda: progress_of("asg-ada-1", "asg-bob-1"),
        timeout=60,
        interval=1.0,
        what="progress ingested",
    )

    # A progress record of the erased candidate's next offering comes before its enrolment
    # (straight onto raw-records, so that no pull brings it again): unprocessed, no link yet.
    # One of an unknown candidate stays unprocessed beside it.
    await produce(
        deployment.topics["raw_records"],
        NPO,
        {
            "event_type": "raw_page.fetched",
            "npo_id": NPO,
            "stream": "assignments",
            "trace_id": "erasure-test",
            "records": [
                early_record("early-ada", "off-0002", ERASED["user"]),
                early_record("early-zoe", "off-0003", "user-zoe"),
            ],
        },
    )

    async def both_unprocessed() -> list[dict[str, Any]] | None:
        records = await unprocessed(first, deployment)
        return records if len(records) == 2 else None

    early = await eventually(both_unprocessed, timeout=30, what="two unprocessed records")
    assert any(ERASED["user"] in r["reason"] for r in early)
    await send(deployment, created("asg-ada-2", ERASED, "off-0002", "Adelaide"))
    (ada_2,) = await wait_results(deployment, "asg-ada-2")
    assert ada_2["status"] == "confirmed"

    async def links_stored() -> bool:
        app_id = deployment.env["NPO_APP_ID"]
        stored = latest(await read_all(f"{app_id}-npo-enrolment-links-changelog"))
        return any(v and v.get("assignment_id") == "asg-ada-2" for v in stored.values())

    await eventually(links_stored, timeout=30, what="the link of asg-ada-2 stored")
    before = await changelogs(deployment)
    assert any(ERASED["email"] in json.dumps(v) for v in before["npo-enrolments"].values())

    # Erased through the CLI (it waits for the candidate.erased event).
    output = json.loads(await run_cli(second, deployment, "candidates", "erase", ERASED["id"]))
    assert output["status"] == "erased", output
    event = output["event"]
    assert event["event_type"] == "candidate.erased"
    assert (event["candidate_id"], event["erasure_id"]) == (ERASED["id"], output["erasure_id"])
    removed = {(e["table"], e["action"]): e for e in event["removed"]}
    assert removed["npo-enrolments", "blanked"]["keys"] == ["asg-ada-1", "asg-ada-2"]
    assert removed["npo-enrolment-links", "deleted"]["count"] == 4  # by NPO id, by user+offering
    assert removed["npo-unprocessed-records", "deleted"]["count"] == 1
    assert removed["npo-record-state", "cleared"]["count"] == 1
    assert not any(p in json.dumps(event) for p in PERSONAL)

    # The event on its topic, as the platform reads it.
    published = [
        m.value
        for m in await read_all(deployment.topics["candidate_erased"])
        if m.key == ERASED["id"]
    ]
    assert [e["event_id"] for e in published] == [event["event_id"]]

    # Every changelog, latest value per key: nothing personal of the erased candidate is left
    # (a key holding their NPO user id is a tombstone, which compaction removes in turn).
    after = await changelogs(deployment)
    assert_erased(after)

    # Enrolments: kept for bookkeeping with the personal fields blanked; the other untouched.
    enrolments = after["npo-enrolments"]
    for assignment_id in ("asg-ada-1", "asg-ada-2"):
        state = enrolments[assignment_id]
        assert state["status"] == "confirmed" and state["npo_enrolment_ref"]
        assert state["erased_at"] and state["erasure_id"] == output["erasure_id"]
        assert state["assignment"]["candidate"] == {
            "candidate_id": ERASED["id"],
            "email": None,
            "first_name": "",
            "last_name": "",
            "npo_user_ref": None,
        }
    assert enrolments["asg-bob-1"]["assignment"]["candidate"]["email"] == KEPT["email"]
    assert enrolments["asg-bob-1"]["erased_at"] is None

    # Links: every key of the erased candidate's links is a tombstone; the other's are kept.
    links_before, links_after = before["npo-enrolment-links"], after["npo-enrolment-links"]
    erased_keys = [
        k for k, v in links_before.items() if v and v.get("candidate_id") == ERASED["id"]
    ]
    assert len(erased_keys) == 4
    assert all(links_after[k] is None for k in erased_keys)
    kept_keys = [k for k, v in links_before.items() if v and v.get("candidate_id") == KEPT["id"]]
    assert kept_keys and all(links_after[k] == links_before[k] for k in kept_keys)

    # Records: the candidate's unprocessed record tombstoned, its state cleared; the other kept.
    records_before = before["npo-unprocessed-records"]
    ada_record = next(k for k, v in records_before.items() if v and ERASED["user"] in json.dumps(v))
    zoe_record = next(k for k, v in records_before.items() if v and "user-zoe" in json.dumps(v))
    assert after["npo-unprocessed-records"][ada_record] is None
    assert after["npo-unprocessed-records"][zoe_record] == records_before[zoe_record]
    ada_state = after["npo-record-state"][ada_record]
    assert ada_state["processed"] is True and ada_state["last_error"] is None

    # The admin views: no personal data of the erased candidate, the other's record still there.
    for worker in workers:
        status, listing = await admin(
            worker.url, deployment.admin_token, "GET", f"/admin/npos/{NPO}/enrolments"
        )
        assert status == 200
        assert not any(p in json.dumps(listing) for p in PERSONAL)
        for row in listing["enrolments"]:
            erased = row["candidate_id"] == ERASED["id"]
            assert (row["erased_at"] is not None) == erased, row
    remaining = await unprocessed(first, deployment)
    assert [r["record_key"] for r in remaining] == [zoe_record]

    # Afterwards: a late assignment of the candidate enrols nobody; progress the NPO still
    # reports for an erased enrolment is dropped, not kept as unprocessed.
    enrolled_before = len(await sandbox.enrolments(NPO))
    await send(deployment, created("asg-ada-3", ERASED, "off-0003", "Adelaide"))

    async def ignored() -> bool:
        line = "of assignment asg-ada-3 ignored: its candidate was erased"
        return any(line in worker.output() for worker in workers)

    await eventually(ignored, timeout=30, what="the late assignment ignored")
    ada_1_record = f"{NPO}/assignments/{ada_1['npo_enrolment_ref']}"
    record_before = after["npo-record-state"][ada_1_record]
    await sandbox.upsert(
        NPO,
        "progress",
        {
            "enrolment_id": ada_1["npo_enrolment_ref"],
            "offering_id": "off-0001",
            "candidate_external_id": ERASED["user"],
            "state": "completed",
            "percent": 100,
        },
    )

    async def new_content_settled() -> bool:
        await fetch(first, deployment)
        app_id = deployment.env["NPO_APP_ID"]
        states = latest(await read_all(f"{app_id}-npo-record-state-changelog"))
        state = states[ada_1_record]
        return state["content_hash"] != record_before["content_hash"] and state["processed"]

    await eventually(new_content_settled, timeout=60, interval=1.0, what="new progress settled")
    assert await results_for(deployment, "asg-ada-3") == []
    assert len(await sandbox.enrolments(NPO)) == enrolled_before
    assert [r["record_key"] for r in await unprocessed(first, deployment)] == [zoe_record]
    updated = [
        m.value
        for m in await read_all(deployment.topics["assignment_updated"])
        if m.key == "asg-ada-1"
    ]
    assert updated and all(u["status"] != "completed" for u in updated)
    assert_erased(await changelogs(deployment))


async def results_for(deployment: Deployment, assignment_id: str) -> list[dict[str, Any]]:
    return [
        m.value
        for m in await read_all(deployment.topics["enrolment_results"])
        if m.key == assignment_id
    ]
