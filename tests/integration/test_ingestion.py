"""Ingestion over the real broker: raw NPO records become platform
events once, failures are re-driven.

Every test reads what a plain aiokafka consumer reads. The SIGKILL test has its
own deployment (it kills its worker); the others share one worker started with a
short re-drive backoff, each with its own NPOs.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from tests.integration.conftest import Deployment
from tests.integration.support.admin import admin
from tests.integration.support.kafka import BOOTSTRAP, Message, produce, read_all
from tests.integration.support.polling import eventually
from tests.integration.support.processes import ROOT, SandboxProcess, WorkerProcess

MAX_ATTEMPTS = 4
INGEST_ENV = {
    "NPO_INGEST_RETRY_BACKOFF_SECONDS": "1",
    "NPO_INGEST_REDRIVE_TICK_SECONDS": "0.5",
    "NPO_INGEST_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
}


def simple_config(
    npo_id: str, base_url: str, *, schedule: int = 600, progress: bool = False, **extra: Any
) -> dict:
    streams: dict[str, Any] = {
        "offerings": {
            "path": "/api/offerings",
            "records_path": "data",
            "pagination": {"style": "page_number", "page_size": 100},
            "schedule_seconds": schedule,
        }
    }
    if progress:
        streams["assignments"] = {
            "path": "/api/progress",
            "records_path": "data",
            "record_id_path": "enrolment_id",
            "pagination": {"style": "page_number", "page_size": 100},
            "schedule_seconds": schedule,
        }
    return {
        "npo_id": npo_id,
        "display_name": npo_id,
        "base_url": base_url,
        "auth": {"kind": "bearer", "token": f"tok-{npo_id}"},
        "streams": streams,
        "transform": {"kind": "plugin", "name": "simple"},
        **extra,
    }


def cursor_config(
    npo_id: str, base_url: str, *, title_path: str = "name", schedule: int = 600
) -> dict:
    """A generic CRM (sandbox flavour ``cursor``) integrated by a declarative mapping only."""
    return {
        "npo_id": npo_id,
        "display_name": npo_id,
        "base_url": base_url,
        "auth": {"kind": "api_key_header", "header": "X-Api-Key", "key": f"key-{npo_id}"},
        "streams": {
            "offerings": {
                "path": "/v2/offerings",
                "params": {"limit": "50"},
                "records_path": "items",
                "pagination": {"style": "body_cursor", "cursor_path": "meta.next_cursor"},
                "schedule_seconds": schedule,
            }
        },
        "transform": {
            "kind": "declarative",
            "mapping": {
                "offering": {
                    "fields": {
                        "npo_offering_ref": {"path": "id"},
                        "title": {"path": title_path},
                        "description": {
                            "path": "details.description_html",
                            "strip_html": True,
                            "default": "",
                        },
                        "status": {"path": "status", "map": {"open": "open", "closed": "closed"}},
                        "starts_at": {"path": "details.starts", "date": "%Y-%m-%d"},
                        "capacity": {"path": "details.seats", "type": "int"},
                    }
                }
            },
        },
    }


async def add_simple_npo(
    sandbox: SandboxProcess, npo_id: str, offerings: int, progress: int = 0
) -> None:
    await sandbox.add_npo(
        npo_id,
        flavour="simple",
        auth={"kind": "bearer", "token": f"tok-{npo_id}"},
        offerings=offerings,
        progress=progress,
    )


async def add_cursor_npo(sandbox: SandboxProcess, npo_id: str, offerings: int) -> None:
    await sandbox.add_npo(
        npo_id,
        flavour="cursor",
        auth={"kind": "api_key_header", "api_key": f"key-{npo_id}", "header_name": "X-Api-Key"},
        offerings=offerings,
    )


def of_npo(messages: list[Message], npo_id: str) -> list[Message]:
    return [m for m in messages if isinstance(m.value, dict) and m.value.get("npo_id") == npo_id]


async def events_of(deployment: Deployment, npo_id: str, topic: str = "offerings") -> list[Message]:
    return of_npo(await read_all(deployment.topics[topic]), npo_id)


async def message_count(topic: str) -> int:
    """Messages on a topic, from its end offsets (cheap enough to poll every few milliseconds)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP)
    await consumer.start()
    try:
        metadata = await consumer._client.fetch_all_metadata()
        tps = [TopicPartition(topic, p) for p in metadata.partitions_for_topic(topic) or ()]
        return sum((await consumer.end_offsets(tps)).values()) if tps else 0
    finally:
        await consumer.stop()


async def committed_to_end(group: str, topic: str) -> bool:
    """The consumer group has committed every raw record there is:
    nothing more will be processed."""
    admin_client = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    consumer = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP)
    await admin_client.start()
    await consumer.start()
    try:
        committed = await admin_client.list_consumer_group_offsets(group)
        tps = [tp for tp in committed if tp.topic == topic]
        metadata = await consumer._client.fetch_all_metadata()
        all_tps = [TopicPartition(topic, p) for p in metadata.partitions_for_topic(topic) or ()]
        ends = await consumer.end_offsets(all_tps)
        return all(committed[tp].offset >= ends[tp] for tp in tps) and all(
            tp in committed or ends[tp] == 0 for tp in all_tps
        )
    finally:
        await consumer.stop()
        await admin_client.close()


# --- SIGKILL: no duplicate, no missing event ---------------------------------------------------

NPOS = ("kill-a", "kill-b", "kill-c")
PER_NPO = 1000
PAGE = 100  # simple_config's page size: each NPO's records arrive as PER_NPO / PAGE raw pages
KILL_ENV = {
    "NPO_INGEST_BATCH_SIZE": "2",  # small batches: a kill lands inside one, not between two
    "NPO_PULL_SEND_BYTES": "1",  # a raw message per NPO page, as the test counts them below
}


async def test_a_worker_killed_in_the_middle_of_a_batch_leaves_every_offering_exactly_once(
    sandbox: SandboxProcess, deployment: Deployment
) -> None:
    for npo_id in NPOS:
        await add_simple_npo(sandbox, npo_id, PER_NPO)
    deployment.write_configs([simple_config(n, sandbox.npo_url(n)) for n in NPOS])
    total = PER_NPO * len(NPOS)
    worker = await deployment.start_worker("first", **KILL_ENV)
    raw_topic, out_topic = deployment.topics["raw_records"], deployment.topics["offerings"]

    async def flowing() -> int:
        # Every page is on the raw topic (the pulls are done) and events
        # are on their way, not all out.
        if await message_count(raw_topic) < total // PAGE:
            return 0
        published = await message_count(out_topic)
        return published if 0 < published < total else 0

    await eventually(flowing, timeout=60, interval=0.01, what="offering events flowing")
    worker.kill()
    before = len(await read_all(out_topic))
    assert before < total, "the worker was killed after it had finished: the test proves nothing"

    # Same env, a fresh data dir: the new worker rebuilds its tables from the changelogs.
    restarted = await deployment.start_worker("second", **KILL_ENV)

    async def all_out() -> list[Message]:
        messages = await read_all(out_topic)
        return messages if len({m.value["event_id"] for m in messages}) >= total else []

    await eventually(all_out, timeout=90, what=f"{total} distinct offering events")
    group = deployment.env["NPO_APP_ID"]
    await eventually(
        lambda: committed_to_end(group, raw_topic), timeout=30, what="every raw page committed"
    )
    messages = await read_all(out_topic)

    ids = Counter(m.value["event_id"] for m in messages)
    assert [i for i, n in ids.items() if n > 1] == [], "an event was published twice"
    offerings = Counter(
        (m.value["npo_id"], m.value["offering"]["npo_offering_ref"]) for m in messages
    )
    expected = {(n, r["id"]) for n in NPOS for r in await sandbox.records(n, "offerings")}
    assert set(offerings) == expected and len(messages) == total
    assert {m.value["event_type"] for m in messages} == {"npo_offering.created"}
    settled = [
        line for line in restarted.output().splitlines() if "crash window: unfinished batch" in line
    ]
    assert settled, "the new worker did not check the batch the killed one left unfinished"
    print(
        f"killed after {before}/{total} events; "
        + "; ".join(line.split("] ", 3)[-1] for line in settled)
    )


# --- one running worker for the rest -----------------------------------------------------------


class IngestStack:
    def __init__(
        self, sandbox: SandboxProcess, deployment: Deployment, worker: WorkerProcess
    ) -> None:
        self.sandbox = sandbox
        self.deployment = deployment
        self.worker = worker

    async def admin(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return await admin(self.worker.url, self.deployment.admin_token, method, path, body)

    async def put_config(self, config: dict) -> None:
        status, body = await self.admin("PUT", f"/admin/npos/{config['npo_id']}?wait=true", config)
        assert status == 200, body

    async def dead_letters(self, npo_id: str) -> list[dict]:
        return [
            m.value
            for m in await read_all(self.deployment.topics["dead_letters"])
            if m.value.get("npo_id") == npo_id
        ]

    async def unprocessed(self, npo_id: str) -> dict:
        status, body = await self.admin("GET", f"/admin/npos/{npo_id}/records?state=unprocessed")
        assert status == 200, body
        return body

    async def pulls(self, npo_id: str, stream: str = "offerings") -> int:
        return len(
            [
                r
                for r in await self.sandbox.requests(npo_id)
                if r["endpoint"] == stream and r["status"] == 200
            ]
        )


@pytest.fixture(scope="module")
def ingest_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IngestStack]:
    workdir = tmp_path_factory.mktemp("ingest")
    sandbox = asyncio.run(SandboxProcess(workdir).start())
    deployment = Deployment(workdir)
    try:
        worker = asyncio.run(deployment.start_worker(**INGEST_ENV))
        yield IngestStack(sandbox, deployment, worker)
    finally:
        deployment.remove()
        sandbox.stop()


async def test_first_sight_is_created_a_change_is_updated_and_an_unchanged_refetch_is_nothing(
    ingest_stack: IngestStack,
) -> None:
    s = ingest_stack
    await add_simple_npo(s.sandbox, "fresh", 3)
    await s.put_config(simple_config("fresh", s.sandbox.npo_url("fresh"), schedule=2))

    async def created() -> list[Message]:
        events = await events_of(s.deployment, "fresh")
        return events if len(events) >= 3 else []

    first = await eventually(created, timeout=30, what="3 created events")
    assert {m.value["event_type"] for m in first} == {"npo_offering.created"}

    record = (await s.sandbox.records("fresh", "offerings"))[0]
    await s.sandbox.upsert(
        "fresh", "offerings", {"id": record["id"], "title": "Renamed by the NPO"}
    )

    async def updated() -> list[Message]:
        events = await events_of(s.deployment, "fresh")
        return [m for m in events if m.value["event_type"] == "npo_offering.updated"]

    [update] = await eventually(updated, timeout=30, what="the updated event")
    assert update.key == f"fresh/{record['id']}"
    assert update.value["offering"]["title"] == "Renamed by the NPO"

    pulls = await s.pulls("fresh")

    async def two_more_pulls() -> bool:
        return await s.pulls("fresh") >= pulls + 2

    await eventually(two_more_pulls, timeout=30, what="two more pulls of unchanged records")
    events = await events_of(s.deployment, "fresh")
    assert Counter(m.value["event_type"] for m in events) == {
        "npo_offering.created": 3,
        "npo_offering.updated": 1,
    }


async def test_an_offering_whose_content_comes_back_gets_a_new_event_id_each_time(
    ingest_stack: IngestStack,
) -> None:
    """A -> B -> A -> B over four pulls: four events, four ids (a consumer that deduplicates
    by id must see every change).

    The simulator stamps every edit with a new modified time, so editing a record back
    would not give A's bytes again. Instead two simulated NPOs serve the same record, one
    as A and one as B, never edited after, and the NPO's config points at one, then the
    other: the integration fetches exactly A's content again.
    """
    s = ingest_stack
    auth = {"kind": "bearer", "token": "tok-flip"}
    await s.sandbox.add_npo("flip-a", flavour="simple", auth=auth, offerings=1)
    await s.sandbox.add_npo("flip-b", flavour="simple", auth=auth, offerings=0)
    [a] = await s.sandbox.records("flip-a", "offerings")
    b = await s.sandbox.upsert("flip-b", "offerings", {**a, "title": "Renamed, then not"})
    config = simple_config("flip", s.sandbox.npo_url("flip-a"), schedule=2)
    config["auth"] = auth

    for pulls, served in enumerate(("flip-a", "flip-b", "flip-a", "flip-b"), start=1):
        await s.put_config({**config, "base_url": s.sandbox.npo_url(served)})

        async def published(count: int = pulls) -> list[Message]:
            events = await events_of(s.deployment, "flip")
            return events if len(events) >= count else []

        await eventually(published, timeout=30, what=f"event {pulls} of the offering")

    pulls_of_b = await s.pulls("flip-b")

    async def two_more_pulls() -> bool:
        return await s.pulls("flip-b") >= pulls_of_b + 2

    await eventually(two_more_pulls, timeout=30, what="two more pulls of unchanged content")
    events = [m.value for m in await events_of(s.deployment, "flip")]
    assert [e["offering"]["title"] for e in events] == [a["title"], b["title"]] * 2
    assert [e["event_type"] for e in events] == ["npo_offering.created"] + [
        "npo_offering.updated"
    ] * 3
    assert events[0]["offering"] == events[2]["offering"]  # the platform sees A again
    assert len({e["event_id"] for e in events}) == 4


async def test_progress_reaches_the_platform_under_the_assignment_its_enrolment_link_names(
    ingest_stack: IngestStack,
) -> None:
    s = ingest_stack
    await add_simple_npo(s.sandbox, "prog", 3, progress=3)
    progress = sorted(await s.sandbox.records("prog", "progress"), key=lambda r: r["enrolment_id"])
    by_ref, by_user, late = progress
    links_topic = s.deployment.topics["enrolment_links"]

    def link(record: dict, assignment: str, *, ref: bool) -> dict:
        return {
            "event_type": "enrolment.linked",
            "npo_id": "prog",
            "assignment_id": assignment,
            "candidate_id": record["candidate_external_id"],
            "npo_enrolment_ref": record["enrolment_id"] if ref else None,
            "npo_user_ref": None if ref else record["candidate_external_id"],
            "npo_offering_ref": record["offering_id"],
        }

    await produce(links_topic, "prog", link(by_ref, "asg-ref", ref=True))
    await produce(links_topic, "prog", link(by_user, "asg-user", ref=False))
    await s.put_config(simple_config("prog", s.sandbox.npo_url("prog"), progress=True))

    async def no_link_letter() -> list[dict]:
        return [d for d in await s.dead_letters("prog") if "NoLinkError" in d["reason"]]

    [letter] = await eventually(
        no_link_letter, timeout=30, what="a dead letter for the unlinked progress"
    )
    assert (
        letter["record_key"] == f"prog/assignments/{late['enrolment_id']}"
        and letter["payload"] == late
    )

    # the push path confirms it later
    await produce(links_topic, "prog", link(late, "asg-late", ref=True))

    async def three_updates() -> list[Message]:
        events = await events_of(s.deployment, "prog", "assignment_updated")
        return events if len(events) >= 3 else []

    events = await eventually(three_updates, timeout=30, what="3 progress events")
    got = {m.key: m.value for m in events}
    assert set(got) == {"asg-ref", "asg-user", "asg-late"} and len(events) == 3
    for assignment, record in (("asg-ref", by_ref), ("asg-user", by_user), ("asg-late", late)):
        event = got[assignment]
        assert event["event_type"] == "candidate_assignment.updated" and event["npo_id"] == "prog"
        assert event["status"] == record["state"]
        assert event["progress"] == pytest.approx(record["percent"] / 100)
    assert (await s.unprocessed("prog"))["count"] == 0


async def test_dead_letters_then_a_config_fix_on_the_running_worker_redrives_them(
    ingest_stack: IngestStack,
) -> None:
    s = ingest_stack
    await add_cursor_npo(s.sandbox, "fixme", 4)
    await s.put_config(
        cursor_config("fixme", s.sandbox.npo_url("fixme"), title_path="title_that_is_not_there")
    )

    async def letters() -> list[dict]:
        found = await s.dead_letters("fixme")
        return found if len(found) >= 4 else []

    found = await eventually(letters, timeout=30, what="4 dead letters")
    assert all(
        "title" in d["reason"] and d["record_key"].startswith("fixme/offerings/") for d in found
    )
    assert all(isinstance(d["payload"], dict) and d["payload"]["id"] for d in found)
    listed = await s.unprocessed("fixme")
    assert listed["count"] == 4 and listed["partition_held"]
    assert all("title" in r["reason"] for r in listed["records"])

    # the mapping fixed; no new pull
    await s.put_config(cursor_config("fixme", s.sandbox.npo_url("fixme")))

    async def created() -> list[Message]:
        events = await events_of(s.deployment, "fixme")
        return events if len(events) >= 4 else []

    events = await eventually(created, timeout=30, what="4 events after the fix")
    names = {r["id"]: r["name"] for r in await s.sandbox.records("fixme", "offerings")}
    assert {
        m.value["offering"]["npo_offering_ref"]: m.value["offering"]["title"] for m in events
    } == names
    # the timer re-drove the kept records; nothing was fetched again
    assert await s.pulls("fixme") == 1
    assert (await s.unprocessed("fixme"))["count"] == 0


def run_cli(stack: IngestStack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("NPO_")},
        "NPO_ADMIN_URL": stack.worker.url,
        "NPO_ADMIN_TOKEN": stack.deployment.admin_token,
    }
    return subprocess.run(
        [sys.executable, "-m", "npo_integration.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_an_operator_redrives_an_npo_whose_records_ran_out_of_attempts(
    ingest_stack: IngestStack,
) -> None:
    s = ingest_stack
    await add_cursor_npo(s.sandbox, "stuck", 3)
    await s.put_config(cursor_config("stuck", s.sandbox.npo_url("stuck"), title_path="nope"))

    async def out_of_attempts() -> dict | None:
        body = await s.unprocessed("stuck")
        done = body["count"] == 3 and all(r["attempts"] >= MAX_ATTEMPTS for r in body["records"])
        return body if done else None

    await eventually(out_of_attempts, timeout=40, what=f"3 records at {MAX_ATTEMPTS} attempts")
    assert len(await s.dead_letters("stuck")) == 3  # one per record, not one per attempt

    await s.put_config(cursor_config("stuck", s.sandbox.npo_url("stuck")))
    listed = await asyncio.to_thread(run_cli, s, "ingest", "unprocessed", "stuck")
    assert listed.returncode == 0 and len(listed.stdout.splitlines()) == 3, listed.stderr
    redriven = await asyncio.to_thread(run_cli, s, "ingest", "redrive", "stuck")
    assert redriven.returncode == 0, redriven.stderr
    assert json.loads(redriven.stdout)["status"] == "accepted"

    async def created() -> list[Message]:
        events = await events_of(s.deployment, "stuck")
        return events if len(events) >= 3 else []

    assert (
        len(await eventually(created, timeout=30, what="3 events after the operator's re-drive"))
        == 3
    )
    assert (await s.unprocessed("stuck"))["count"] == 0
    status, _ = await s.admin("POST", "/admin/npos/no-such-npo/dead-letters/redrive")
    assert status == 404


async def test_one_npos_failing_mapping_does_not_hold_up_another_npos_records(
    ingest_stack: IngestStack,
) -> None:
    s = ingest_stack
    await add_cursor_npo(s.sandbox, "broken", 30)
    await add_simple_npo(s.sandbox, "healthy", 30)
    await s.put_config(
        cursor_config("broken", s.sandbox.npo_url("broken"), title_path="details.missing")
    )
    await s.put_config(simple_config("healthy", s.sandbox.npo_url("healthy")))

    async def healthy_events() -> list[Message]:
        events = await events_of(s.deployment, "healthy")
        return events if len(events) >= 30 else []

    async def broken_letters() -> list[dict]:
        found = await s.dead_letters("broken")
        return found if len(found) >= 30 else []

    events = await eventually(healthy_events, timeout=30, what="30 events of the healthy NPO")
    assert len({m.value["offering"]["npo_offering_ref"] for m in events}) == 30
    assert (
        len(await eventually(broken_letters, timeout=30, what="30 dead letters of the broken NPO"))
        == 30
    )
    assert await events_of(s.deployment, "broken") == []


async def test_a_new_npo_by_declarative_config_on_a_running_worker_is_live_within_one_interval(
    ingest_stack: IngestStack,
) -> None:
    s = ingest_stack
    interval = 10
    await add_cursor_npo(s.sandbox, "newcomer", 12)
    started = time.monotonic()
    status, body = await s.admin(
        "PUT",
        "/admin/npos/newcomer",
        cursor_config("newcomer", s.sandbox.npo_url("newcomer"), schedule=interval),
    )
    assert status == 202, body

    async def created() -> list[Message]:
        events = await events_of(s.deployment, "newcomer")
        return events if len(events) >= 12 else []

    events = await eventually(
        created, timeout=interval, what="12 events within one schedule interval"
    )
    assert time.monotonic() - started < interval
    records = {r["id"]: r for r in await s.sandbox.records("newcomer", "offerings")}
    for message in events:
        event = message.value
        offering = event["offering"]
        record = records[offering["npo_offering_ref"]]
        assert (
            event["event_type"] == "npo_offering.created"
            and message.key == f"newcomer/{record['id']}"
        )
        assert offering["title"] == record["name"] and offering["status"] == record["status"]
        assert offering["capacity"] == record["details"]["seats"]
        assert offering["starts_at"].startswith(record["details"]["starts"])
        assert "<" not in offering["description"]
