"""What every chaos scenario shares: a simulator and one deployment per module, NPOs and
assignments made the same way, the ledger taken and written at the end."""

from __future__ import annotations

import time
import uuid
from typing import Any

from tests.chaos.ledger import Ledger, ScenarioResult, WorkerMemory, rss_mb, take
from tests.integration.conftest import Deployment
from tests.integration.support.admin import admin
from tests.integration.support.kafka import SHARED, Broker, produce
from tests.integration.support.polling import eventually
from tests.integration.support.processes import SandboxProcess, WorkerProcess

TOKEN = "chaos-token"


def offering_config(
    npo_id: str,
    base_url: str,
    *,
    schedule: float = 600,
    page_size: int = 20,
    incremental: bool = False,
    enrolment: bool = False,
    timeout: float = 5.0,
    **extra: Any,
) -> dict[str, Any]:
    """A simple-flavour NPO: its offerings pulled every ``schedule`` seconds, optionally
    incrementally (``updated_since``), optionally enrolling with an honoured Idempotency-Key."""
    stream: dict[str, Any] = {
        "path": "/api/offerings",
        "records_path": "data",
        "pagination": {"style": "page_number", "page_size": page_size},
        "schedule_seconds": schedule,
    }
    if incremental:
        stream["incremental"] = {"cursor_field": "updated_at", "param": "updated_since"}
    config: dict[str, Any] = {
        "npo_id": npo_id,
        "display_name": npo_id,
        "base_url": base_url,
        "auth": {"kind": "bearer", "token": TOKEN},
        "streams": {"offerings": stream},
        "transform": {"kind": "plugin", "name": "simple"},
        "timeout_seconds": timeout,
        "retry": {"backoff_base_seconds": 0.2, "backoff_max_seconds": 1.0},
        **extra,
    }
    if enrolment:
        config["enrolment"] = {
            "enabled": True,
            "enrol": {
                "method": "POST",
                "path": "/api/enrolments",
                "body_format": "json",
                "response_id_path": "enrolment_id",
            },
            "idempotency_key": "honoured",
            "max_attempts": 4,
        }
    return config


async def add_npo(sandbox: SandboxProcess, npo_id: str, offerings: int, **options: Any) -> None:
    await sandbox.add_npo(
        npo_id,
        flavour="simple",
        auth={"kind": "bearer", "token": TOKEN},
        offerings=offerings,
        options=options,
    )


def assignment(assignment_id: str, npo_id: str, offering: str = "off-0001") -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": "candidate_assignment.created",
        "occurred_at": "2026-11-28T09:05:00Z",
        "assignment_id": assignment_id,
        "candidate": {
            "candidate_id": f"cand-{assignment_id}",
            "email": f"{assignment_id}@example.org",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "npo_user_ref": f"user-{assignment_id}",
        },
        "offering": {"offering_id": "off-5", "npo_id": npo_id, "npo_offering_ref": offering},
    }


async def send_assignments(
    deployment: Deployment, npo_id: str, ids: list[str], broker: Broker = SHARED
) -> None:
    for assignment_id in ids:
        await produce(
            deployment.topics["candidate_assignments"],
            assignment_id,
            assignment(assignment_id, npo_id),
            broker=broker,
        )


async def put_config(worker: WorkerProcess, deployment: Deployment, config: dict) -> None:
    status, body = await admin(
        worker.url,
        deployment.admin_token,
        "PUT",
        f"/admin/npos/{config['npo_id']}?wait=true",
        config,
    )
    # 202: accepted and durable, applied by the worker owning its partition a moment later
    assert status in (200, 202), body


async def start_timed(deployment: Deployment, name: str, **env: str) -> tuple[WorkerProcess, float]:
    """A new worker (own data dir) and the seconds from spawn to a healthy web server."""
    started = time.monotonic()
    worker = await deployment.start_worker(name, **env)
    return worker, round(time.monotonic() - started, 1)


async def settled_ledger(
    sandbox: SandboxProcess,
    deployment: Deployment,
    *,
    npos: list[str] = (),  # type: ignore[assignment]
    assignments: list[str] = (),  # type: ignore[assignment]
    enrolling_npos: list[str] = (),  # type: ignore[assignment]
    broker: Broker = SHARED,
    timeout: float = 90,
) -> Ledger:
    """The ledger once nothing is missing any more (or the deadline passed: then as it stands,
    and the scenario's assertion names what is lost)."""

    async def probe() -> Ledger | None:
        ledger = await take(
            sandbox,
            deployment.topics,
            npos=npos,
            assignments=assignments,
            enrolling_npos=enrolling_npos,
            broker=broker,
        )
        return ledger if not ledger.lost_records and not ledger.lost_assignments else None

    try:
        return await eventually(probe, timeout=timeout, interval=1.0, what="a complete ledger")
    except AssertionError:
        return await take(
            sandbox,
            deployment.topics,
            npos=npos,
            assignments=assignments,
            enrolling_npos=enrolling_npos,
            broker=broker,
        )


def finish(
    scenario: str,
    title: str,
    ledger: Ledger,
    memory: list[WorkerMemory],
    recovery: dict[str, float] | None = None,
    notes: list[str] | None = None,
) -> ScenarioResult:
    """Write the scenario's figures (even when it fails: the report shows the failure) and assert
    the ledger is clean."""
    result = ScenarioResult(
        scenario=scenario,
        title=title,
        ledger=ledger,
        recovery_seconds=recovery or {},
        memory=memory,
        notes=notes or [],
        passed=not ledger.faults(),
    )
    result.write()
    ledger.assert_clean()
    return result


def memory_of(workers: list[WorkerProcess], start: dict[str, float | None]) -> list[WorkerMemory]:
    """RSS at start (taken by the scenario once healthy) and now, per worker still running."""
    return [
        WorkerMemory(
            name=w.name,
            rss_mb_start=start.get(w.name),
            rss_mb_end=rss_mb(w.proc.pid if w.proc and w.proc.poll() is None else None),
        )
        for w in workers
    ]


def rss_now(worker: WorkerProcess) -> float | None:
    return rss_mb(worker.proc.pid if worker.proc else None)
