"""One erasure step over in-memory tables: what is blanked, deleted and kept, and a step done
again after a crash reports the same enrolments and links."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from npo_integration.erasure.eraser import Eraser
from npo_integration.erasure.personal import blanked_state, is_blank, link_marker_key
from npo_integration.ingest import links
from npo_integration.models.enrolment import EnrolmentState
from npo_integration.models.erasure import (
    CandidateErase,
    ErasedCandidate,
    ErasedEntries,
    ErasedLink,
    merged,
)
from npo_integration.models.events import CandidateAssignmentEvent
from npo_integration.models.internal import EnrolmentLink, RawRecord
from npo_integration.models.state import RecordState, UnprocessedRecord
from npo_integration.pull.raw import raw_record
from npo_integration.transforms.plugins.simple import SimplePlugin

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
NPO = "code-academy"


def state(assignment_id: str, candidate_id: str, *, partition: int = 0) -> EnrolmentState:
    event = CandidateAssignmentEvent.model_validate(
        {
            "event_type": "candidate_assignment.created",
            "assignment_id": assignment_id,
            "candidate": {
                "candidate_id": candidate_id,
                "email": f"{candidate_id}@example.org",
                "first_name": "Ada",
                "last_name": "L",
                "npo_user_ref": f"u-{candidate_id}",
            },
            "offering": {"offering_id": "o", "npo_id": NPO, "npo_offering_ref": "course-1"},
        }
    )
    return EnrolmentState(
        assignment_id=assignment_id,
        npo_id=NPO,
        partition=partition,
        assignment=event,
        status="failed",
        reason=f"HTTP 422: {candidate_id}@example.org is not allowed",
        due_at=T0,
        npo_enrolment_ref=f"enr-{assignment_id}",
        created_at=T0,
        updated_at=T0,
    )


def link(assignment_id: str, candidate_id: str) -> EnrolmentLink:
    return EnrolmentLink(
        npo_id=NPO,
        assignment_id=assignment_id,
        candidate_id=candidate_id,
        npo_enrolment_ref=f"enr-{assignment_id}",
        npo_user_ref=f"u-{candidate_id}",
        npo_offering_ref="course-1",
    )


def progress_record(enrolment_id: str, user: str) -> RawRecord:
    payload = {
        "enrolment_id": enrolment_id,
        "offering_id": "course-1",
        "candidate_external_id": user,
        "state": "in_progress",
        "percent": 10,
    }
    return raw_record(NPO, "assignments", enrolment_id, payload, "t")


class Tables:
    """The ports over dicts (one partition: every key is on it)."""

    def __init__(self) -> None:
        self.enrolments: dict[str, EnrolmentState] = {}
        self.links: dict[str, Any] = {}
        self.unprocessed: dict[str, UnprocessedRecord] = {}
        self.states: dict[str, RecordState] = {}
        self.candidates: dict[str, ErasedCandidate] = {}

    def enrolments_of(self, candidate_id: str, partition: int) -> Iterable[EnrolmentState]:
        return [
            s
            for s in self.enrolments.values()
            if s.assignment.candidate.candidate_id == candidate_id and s.partition == partition
        ]

    def save_enrolment(self, state: EnrolmentState) -> None:
        self.enrolments[state.assignment_id] = state

    def links_of(self, candidate_id: str, partition: int) -> Iterable[tuple[str, EnrolmentLink]]:
        return [
            (k, v)
            for k, v in self.links.items()
            if isinstance(v, EnrolmentLink) and v.candidate_id == candidate_id
        ]

    def delete_link(self, key: str) -> None:
        del self.links[key]

    def put_link_marker(self, key: str, marker: ErasedLink) -> None:
        self.links[key] = marker

    def link_marker(self, key: str) -> ErasedLink | None:
        value = self.links.get(key)
        return value if isinstance(value, ErasedLink) else None

    def link_markers_of(self, erasure_id: str, partition: int) -> Iterable[ErasedLink]:
        return [
            v
            for v in self.links.values()
            if isinstance(v, ErasedLink) and v.erasure_id == erasure_id
        ]

    def unprocessed_of(self, npo_ids: set[str], partition: int) -> Iterable[UnprocessedRecord]:
        return [e for e in self.unprocessed.values() if e.raw.npo_id in npo_ids]

    def delete_unprocessed(self, record_key: str) -> None:
        del self.unprocessed[record_key]

    def record_state(self, record_key: str) -> RecordState | None:
        return self.states.get(record_key)

    def put_record_state(self, state: RecordState) -> None:
        self.states[state.record_key] = state

    def mark_candidate(self, candidate_id: str, marker: ErasedCandidate) -> None:
        self.candidates[candidate_id] = marker

    def add_link(self, value: EnrolmentLink) -> None:
        for key in links.keys_of(value):
            self.links[key] = value

    def add_unprocessed(self, raw: RawRecord) -> None:
        reason = "NoLinkError: no enrolment link for npo_user_ref='...'"
        self.unprocessed[raw.record_key] = UnprocessedRecord(
            raw=raw,
            reason=reason,
            attempts=1,
            first_failed_at=T0,
            last_failed_at=T0,
            next_attempt_at=T0,
        )
        self.states[raw.record_key] = RecordState(
            record_key=raw.record_key,
            npo_id=NPO,
            stream="assignments",
            content_hash=raw.content_hash,
            last_error=reason,
            attempts=1,
        )


async def progress_of(raws: Sequence[RawRecord]) -> list[Any]:
    plugin = SimplePlugin()
    out: list[Any] = []
    for raw in raws:
        try:
            out.append(plugin.progress(raw.payload))
        except Exception as exc:
            out.append(exc)
    return out


def command(candidate_id: str = "cand-1", erasure_id: str = "er-1") -> CandidateErase:
    return CandidateErase(
        erasure_id=erasure_id, candidate_id=candidate_id, partitions=1, requested_at=T0
    )


def counts(report: list[ErasedEntries]) -> dict[tuple[str, str], int]:
    return {(e.table, e.action): e.count for e in report}


async def test_a_step_blanks_enrolments_deletes_links_and_records_and_keeps_others() -> None:
    tables = Tables()
    kept = state("asg-2", "cand-2")
    tables.save_enrolment(state("asg-1", "cand-1"))
    tables.save_enrolment(kept)
    tables.add_link(link("asg-1", "cand-1"))
    tables.add_link(link("asg-2", "cand-2"))
    mine = progress_record("enr-asg-1-later", "u-cand-1")  # found by user + offering
    other = progress_record("enr-zzz", "u-nobody")
    unreadable = raw_record(NPO, "assignments", "bad", {"state": "???"}, "t")
    for raw in (mine, other, unreadable):
        tables.add_unprocessed(raw)
    eraser = Eraser(tables, progress_of, lambda: T0)

    report = await eraser.erase(command(), 0)

    assert counts(report) == {
        ("npo-enrolments", "blanked"): 1,
        ("npo-enrolment-links", "deleted"): 2,
        ("npo-unprocessed-records", "deleted"): 1,
        ("npo-record-state", "cleared"): 1,
    }
    assert report[0].keys == ["asg-1"]
    erased = tables.enrolments["asg-1"]
    assert is_blank(erased) and erased.status == "failed" and erased.due_at is None
    assert erased.npo_enrolment_ref == "enr-asg-1" and erased.reason == "(erased)"
    assert "cand-1@example.org" not in erased.model_dump_json()
    assert tables.enrolments["asg-2"] == kept
    for key in links.keys_of(link("asg-1", "cand-1")):
        assert key not in tables.links
        assert tables.link_marker(link_marker_key(NPO, key)) is not None
    assert all(k in tables.links for k in links.keys_of(link("asg-2", "cand-2")))
    assert set(tables.unprocessed) == {other.record_key, unreadable.record_key}
    cleared = tables.states[mine.record_key]
    assert cleared.processed and cleared.last_error is None and cleared.attempts == 0
    assert tables.candidates["cand-1"].erasure_id == "er-1"


async def test_a_step_done_again_reports_the_same_enrolments_and_links() -> None:
    tables = Tables()
    tables.save_enrolment(state("asg-1", "cand-1"))
    tables.add_link(link("asg-1", "cand-1"))
    eraser = Eraser(tables, progress_of, lambda: T0)
    first = await eraser.erase(command(), 0)
    again = await eraser.erase(command(), 0)
    assert counts(again)[("npo-enrolments", "blanked")] == 1
    assert counts(again)[("npo-enrolment-links", "deleted")] == 2
    assert again[0].keys == first[0].keys == ["asg-1"]
    other = await eraser.erase(command(erasure_id="er-2"), 0)
    assert counts(other)[("npo-enrolments", "blanked")] == 0  # erased by er-1, not by er-2


def test_a_blanked_state_keeps_only_pseudonymous_ids_and_bookkeeping() -> None:
    blank = blanked_state(state("asg-1", "cand-1"), "er-1", T0)
    candidate = blank.assignment.candidate
    assert candidate.candidate_id == "cand-1"
    assert (candidate.email, candidate.first_name, candidate.last_name) == (None, "", "")
    assert candidate.npo_user_ref is None
    assert (blank.assignment_id, blank.npo_enrolment_ref, blank.status) == (
        "asg-1",
        "enr-asg-1",
        "failed",
    )
    assert EnrolmentState.model_validate_json(blank.model_dump_json()) == blank


def test_reports_of_steps_merge_by_table_and_action() -> None:
    a = [ErasedEntries(table="t", action="blanked", count=1, keys=["x"])]
    b = [
        ErasedEntries(table="t", action="blanked", count=2, keys=["y", "z"]),
        ErasedEntries(table="u", action="deleted", count=3),
    ]
    assert merged(a, b) == [
        ErasedEntries(table="t", action="blanked", count=3, keys=["x", "y", "z"]),
        ErasedEntries(table="u", action="deleted", count=3),
    ]
