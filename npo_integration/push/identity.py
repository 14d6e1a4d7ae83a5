"""Deterministic ids of the push path: Idempotency-Keys and event ids derived from the assignment.

The same assignment always yields the same key, so every attempt of an
enrolment, across retries, crashes and workers, carries one key the NPO can
deduplicate on; unenrolment has its own key so it is never mistaken for a replay.
"""

from __future__ import annotations

import hashlib

from npo_integration.ingest.identity import event_id_for
from npo_integration.models.enrolment import Operation


def idempotency_key(operation: Operation, assignment_id: str) -> str:
    """``spotlight-<operation>-<sha256 of "operation|assignment_id">``, 64 hex digits of it."""
    digest = hashlib.sha256(f"{operation}|{assignment_id}".encode()).hexdigest()
    return f"spotlight-{operation}-{digest}"


def result_event_id(assignment_id: str, status: str, redrives: int) -> str:
    """The same decision (after a redelivery) gets the same id; a re-driven one gets a new id."""
    return event_id_for(assignment_id, f"{status}#{redrives}", "enrolment.result")


def link_event_id(assignment_id: str, event_type: str, npo_enrolment_ref: str | None) -> str:
    return event_id_for(assignment_id, npo_enrolment_ref or "", event_type)
