"""The ledger: after a scenario, what the NPOs served and received against what a plain Kafka
consumer reads on every output topic. One pydantic model the scenario asserts on and writes to
``var/chaos/<scenario>.json`` for ``tests/chaos/report.py``.

The properties (issue 14): one platform event per change of a record, one enrolment at the NPO
per assignment, one final outcome event per assignment, and nothing unprocessed without a dead
letter saying why.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from tests.integration.support.kafka import SHARED, Broker, Message, read_all
from tests.integration.support.processes import ROOT, SandboxProcess

RESULTS = ROOT / "var" / "chaos"
FINAL = frozenset({"confirmed", "failed", "unknown"})
"""Outcome statuses that end an enrolment (``unknown`` waits for an operator, with its event)."""


class Ledger(BaseModel):
    """What one scenario left behind; every list names the offending keys."""

    records_served: int = 0
    platform_events: int = 0
    changes: int = Field(0, description="distinct changes published (events minus duplicates)")
    duplicate_events: list[str] = Field(
        default_factory=list,
        description="record keys with an event id published twice or one change published twice",
    )
    lost_records: list[str] = Field(
        default_factory=list, description="served, no event and no dead letter saying why"
    )
    assignments: int = 0
    enrolments_per_assignment: dict[int, int] = Field(
        default_factory=dict, description="enrolments at the NPO -> assignments with that many"
    )
    outcomes_per_assignment: dict[int, int] = Field(
        default_factory=dict, description="final outcome events -> assignments with that many"
    )
    double_enrolled: list[str] = Field(default_factory=list)
    double_outcomes: list[str] = Field(default_factory=list)
    lost_assignments: list[str] = Field(
        default_factory=list,
        description="enrolled at the NPO but no final outcome, confirmed but not enrolled, or "
        "neither and no dead letter saying why",
    )
    dead_letters: int = 0

    def faults(self) -> list[str]:
        """Every breach of the properties, one line each (empty: the scenario is clean)."""
        found = []
        for name in (
            "duplicate_events",
            "lost_records",
            "double_enrolled",
            "double_outcomes",
            "lost_assignments",
        ):
            keys = getattr(self, name)
            if keys:
                found.append(f"{name}: {len(keys)} ({', '.join(keys[:5])})")
        return found

    def assert_clean(self) -> None:
        assert not self.faults(), "; ".join(self.faults())


class WorkerMemory(BaseModel):
    name: str
    rss_mb_start: float | None = None
    rss_mb_end: float | None = None


class ScenarioResult(BaseModel):
    """One scenario's figures, as ``report.py`` renders them."""

    scenario: str
    title: str
    ledger: Ledger
    recovery_seconds: dict[str, float] = Field(default_factory=dict)
    memory: list[WorkerMemory] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    passed: bool = False
    finished_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    machine: dict[str, str] = Field(default_factory=lambda: machine())

    def write(self) -> Path:
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"{self.scenario}.json"
        path.write_text(self.model_dump_json(indent=2))
        return path


def machine() -> dict[str, str]:
    """Where the figures were taken: cores, Python, Faust and the broker's version."""
    versions = {}
    for name in ("faust-streaming", "aiokafka", "pydantic"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "?"
    return {
        "platform": platform.platform(),
        "cpus": str(os.cpu_count()),
        "python": sys.version.split()[0],
        "kafka": os.environ.get("KAFKA_VERSION", "4.1.1"),
        "time_factor": os.environ.get("TEST_TIME_FACTOR") or ("2" if os.environ.get("CI") else "1"),
        **versions,
    }


def rss_mb(pid: int | None) -> float | None:
    """A process's resident memory in MB (Linux), ``None`` when it is gone."""
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def _count(values: Iterable[int]) -> dict[int, int]:
    return dict(sorted(Counter(values).items()))


def _is_event(message: Message) -> bool:
    return isinstance(message.value, dict)


async def take(
    sandbox: SandboxProcess,
    topics: dict[str, str],
    *,
    npos: Iterable[str] = (),
    assignments: Iterable[str] = (),
    enrolling_npos: Iterable[str] = (),
    broker: Broker = SHARED,
) -> Ledger:
    """The ledger of ``npos`` (their offerings) and ``assignments`` (assignment ids whose
    candidate email is ``<assignment_id>@example.org``, sent to ``enrolling_npos``) in a
    deployment's ``topics``."""
    npo_ids = list(npos)
    wanted = list(assignments)
    letters = [m for m in await read_all(topics["dead_letters"], broker=broker) if _is_event(m)]
    lettered_records = {(m.value.get("npo_id"), m.value.get("record_key")) for m in letters}
    lettered_keys = {m.value.get("key") for m in letters} | {m.key for m in letters}
    ledger = Ledger(dead_letters=len(letters))

    if npo_ids:
        served: set[tuple[str, str]] = set()
        for npo_id in npo_ids:
            served |= {(npo_id, r["id"]) for r in await sandbox.records(npo_id, "offerings")}
        events = [
            m
            for m in await read_all(topics["offerings"], broker=broker)
            if _is_event(m) and m.value.get("npo_id") in npo_ids
        ]
        ledger.records_served = len(served)
        ledger.platform_events = len(events)
        seen_ids: set[str] = set()
        last: dict[tuple[str, str], Any] = {}
        published: set[tuple[str, str]] = set()
        duplicates: list[str] = []
        changes = 0
        for m in sorted(events, key=lambda m: (m.partition, m.offset)):
            offering = m.value.get("offering") or {}
            key = (m.value["npo_id"], str(offering.get("npo_offering_ref", m.key)))
            body = json.dumps(offering, sort_keys=True) + str(m.value.get("event_type"))
            if m.value.get("event_id") in seen_ids or last.get(key) == body:
                duplicates.append(f"{key[0]}/{key[1]}")
            else:
                changes += 1
            seen_ids.add(m.value.get("event_id"))
            last[key] = body
            published.add(key)
        ledger.changes = changes
        ledger.duplicate_events = sorted(set(duplicates))
        ledger.lost_records = sorted(
            f"{n}/{r}"
            for n, r in served - published
            if (n, r) not in lettered_records and f"{n}/{r}" not in lettered_keys
        )

    if wanted:
        enrolled: Counter[str] = Counter()
        for npo_id in set(enrolling_npos):
            for record in await _enrolments(sandbox, npo_id):
                email = str((record.get("candidate") or {}).get("email", ""))
                enrolled[email.split("@", 1)[0]] += 1
        # Outcomes by event id: a send tried again after an unacknowledged try may leave a second
        # copy with the same id (a platform consumer skips it); two ids are two outcomes.
        final_ids: defaultdict[str, set[str]] = defaultdict(set)
        confirmed: set[str] = set()
        for m in await read_all(topics["enrolment_results"], broker=broker):
            if _is_event(m) and m.value.get("status") in FINAL:
                final_ids[str(m.key)].add(str(m.value.get("event_id")))
                if m.value["status"] == "confirmed":
                    confirmed.add(str(m.key))
        outcomes = {a: len(final_ids[a]) for a in wanted}
        ledger.assignments = len(wanted)
        ledger.enrolments_per_assignment = _count(enrolled[a] for a in wanted)
        ledger.outcomes_per_assignment = _count(outcomes[a] for a in wanted)
        ledger.double_enrolled = sorted(a for a in wanted if enrolled[a] > 1)
        ledger.double_outcomes = sorted(a for a in wanted if outcomes[a] > 1)
        ledger.lost_assignments = sorted(
            a
            for a in wanted
            # a dead letter explains a missing outcome only when the NPO was never called
            if (not outcomes[a] and (enrolled[a] or a not in lettered_keys))
            or (a in confirmed and not enrolled[a])
        )
    return ledger


async def _enrolments(sandbox: SandboxProcess, npo_id: str) -> list[dict[str, Any]]:
    try:
        return await sandbox.enrolments(npo_id)
    except Exception:  # an NPO with no enrolment endpoint, or not at this simulator
        return []
