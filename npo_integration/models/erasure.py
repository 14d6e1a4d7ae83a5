"""A candidate's right to erasure: the command that walks the partitions, what each step removed,
the event that reports it, and the markers that keep an erased candidate out afterwards.

No model here holds personal data: a candidate is named by the platform's pseudonymous
``candidate_id`` only, and what was removed by table, action and count (plus the
assignment ids of blanked enrolments, the platform's own pseudonymous keys).
"""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from npo_integration.models.codec import Versioned
from npo_integration.models.events import Event

CandidateId = str
ERASURE_NAMESPACE = uuid.UUID("7d0c6a53-3c1f-4f55-9a41-6f1c2f2a9e10")

ErasureAction = Literal["blanked", "deleted", "cleared"]
"""``blanked``: the value stays with its personal fields emptied; ``deleted``: the key is removed
(a changelog tombstone); ``cleared``: the record's state stays, its error text and pending
payload are gone."""


class ErasedEntries(BaseModel):
    """What one table lost: e.g. ``npo-enrolment-links`` ``deleted`` 2."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    table: str
    action: ErasureAction
    count: int = Field(ge=0)
    keys: list[str] = Field(
        default_factory=list,
        description="keys that are pseudonymous platform ids (assignment ids); others counted only",
    )


def merged(*reports: list[ErasedEntries]) -> list[ErasedEntries]:
    """Reports of several steps as one: counts and keys added per (table, action)."""
    totals: dict[tuple[str, str], ErasedEntries] = {}
    for report in reports:
        for entry in report:
            key = (entry.table, entry.action)
            before = totals.get(key)
            totals[key] = (
                entry
                if before is None
                else ErasedEntries(
                    table=entry.table,
                    action=entry.action,
                    count=before.count + entry.count,
                    keys=sorted({*before.keys, *entry.keys}),
                )
            )
    return [totals[key] for key in sorted(totals)]


class CandidateErase(Event, Versioned):
    """``npo-integration.enrolment-commands``: erase a candidate's personal data, one partition at a
    time. Sent to partition 0; the owner of each partition erases what that partition holds and
    sends the command on to the next (with what was removed so far); the last one publishes
    ``candidate.erased``. Each step's table writes land on its own partition, as Faust requires."""

    event_type: Literal["candidate.erase"] = "candidate.erase"
    erasure_id: str = Field(min_length=1, max_length=100)
    candidate_id: CandidateId = Field(min_length=1, max_length=200)
    partition: int = Field(0, ge=0, description="the partition this step erases")
    partitions: int = Field(ge=1, description="how many partitions the erasure walks")
    requested_by: Literal["admin-api", "cli"] = "admin-api"
    requested_at: AwareDatetime
    removed: list[ErasedEntries] = Field(default_factory=list, description="by the steps before")


class CandidateErased(Event):
    """``spotlight.candidate-erased``, key candidate_id: the erasure is done on every partition.

    ``event_id`` is derived from ``erasure_id``: published again after a crash, it has the same id
    (the first copy is the complete one)."""

    event_type: Literal["candidate.erased"] = "candidate.erased"
    erasure_id: str
    candidate_id: CandidateId
    requested_by: Literal["admin-api", "cli"]
    requested_at: AwareDatetime
    partitions: int = Field(ge=1)
    removed: list[ErasedEntries]


def erased_event_id(erasure_id: str) -> str:
    return str(uuid.uuid5(ERASURE_NAMESPACE, erasure_id))


class ErasedCandidate(Versioned):
    """``npo-erased-candidates`` value, key candidate_id, on every partition: input about this
    candidate that arrives after its erasure (a late assignment, a late link) is dropped."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    erasure_id: str
    erased_at: AwareDatetime


class ErasedLink(Versioned):
    """``npo-enrolment-links`` value under ``<npo_id>/erased:<sha256 of the link's key>``: progress
    the NPO still reports for an erased enrolment is dropped, not kept as unprocessed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_type: Literal["enrolment.erased"] = "enrolment.erased"
    npo_id: str
    assignment_id: str
    erasure_id: str
    erased_at: AwareDatetime
