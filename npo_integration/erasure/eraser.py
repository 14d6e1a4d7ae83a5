"""One step of an erasure: a candidate's personal data removed from what one partition holds.

The tables are keyed by assignment_id (enrolments) or npo_id (links, raw records), not by
candidate: a step scans its partition's enrolments and links for the ``candidate_id`` (a byte
pre-filter before parsing), which at the expected scale (about a million candidates in three
years, erasures rare) costs a scan per partition per erasure rather than an index to keep on
every write. Then:

- enrolments: blanked (``erasure.personal``), kept for bookkeeping;
- enrolment links: deleted (a tombstone each), and a marker left under the hash of each key,
  so progress the NPO still reports for the erased enrolment is dropped at ingestion;
- unprocessed progress records that belong to a deleted link (the NPO's plug-in reads each one
  to find its link keys): deleted, and the record's state cleared of its error text (which may
  quote an NPO user id) and marked processed, so the same content is not taken up again;
- a marker of the erased candidate on the partition, so an assignment or link of theirs that
  arrives later is dropped.

Writes land on the partition of the command being processed, so every key touched must be of
that partition: enrolments carry their partition, links and records are placed by npo_id.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from npo_integration.erasure.personal import blanked_state, link_marker_key
from npo_integration.ingest import links
from npo_integration.ingest.processed_flag import processed
from npo_integration.models.enrolment import EnrolmentState
from npo_integration.models.erasure import (
    CandidateErase,
    ErasedCandidate,
    ErasedEntries,
    ErasedLink,
)
from npo_integration.models.events import Progress
from npo_integration.models.internal import EnrolmentLink, RawRecord
from npo_integration.models.state import RecordState, UnprocessedRecord

log = logging.getLogger(__name__)

ENROLMENTS = "npo-enrolments"
LINKS = "npo-enrolment-links"
UNPROCESSED = "npo-unprocessed-records"
RECORD_STATES = "npo-record-state"


class ErasurePorts(Protocol):
    """The tables of one worker, as an erasure step needs them (all on the step's partition)."""

    def enrolments_of(self, candidate_id: str, partition: int) -> Iterable[EnrolmentState]: ...

    def save_enrolment(self, state: EnrolmentState) -> None: ...

    def links_of(self, candidate_id: str, partition: int) -> Iterable[tuple[str, EnrolmentLink]]:
        """(key, link) of every link of the candidate stored on ``partition``."""

    def delete_link(self, key: str) -> None: ...

    def put_link_marker(self, key: str, marker: ErasedLink) -> None: ...

    def link_marker(self, key: str) -> ErasedLink | None: ...

    def link_markers_of(self, erasure_id: str, partition: int) -> Iterable[ErasedLink]:
        """The markers this erasure left on ``partition``."""

    def unprocessed_of(self, npo_ids: set[str], partition: int) -> Iterable[UnprocessedRecord]:
        """Unprocessed progress records of these NPOs on ``partition``."""

    def delete_unprocessed(self, record_key: str) -> None: ...

    def record_state(self, record_key: str) -> RecordState | None: ...

    def put_record_state(self, state: RecordState) -> None: ...

    def mark_candidate(self, candidate_id: str, marker: ErasedCandidate) -> None: ...


ProgressOf = Callable[[Sequence[RawRecord]], Awaitable[list[Any]]]
"""Each record through its NPO's plug-in: a ``Progress``, ``None`` or the exception it raised."""


@dataclass
class Eraser:
    ports: ErasurePorts
    progress_of: ProgressOf
    clock: Callable[[], datetime]

    async def erase(self, command: CandidateErase, partition: int) -> list[ErasedEntries]:
        """Erase what ``partition`` holds of the candidate; what was removed, per table."""
        now = self.clock()
        candidate_id = command.candidate_id
        self.ports.mark_candidate(
            candidate_id, ErasedCandidate(erasure_id=command.erasure_id, erased_at=now)
        )
        blanked = self._blank_enrolments(command, partition, now)
        deleted_keys = self._delete_links(command, partition, now)
        markers = list(self.ports.link_markers_of(command.erasure_id, partition))
        npo_ids = {marker.npo_id for marker in markers}
        records = await self._erase_records(command, partition, npo_ids, deleted_keys, now)
        report = [
            ErasedEntries(table=ENROLMENTS, action="blanked", count=len(blanked), keys=blanked),
            ErasedEntries(table=LINKS, action="deleted", count=len(markers)),
            ErasedEntries(table=UNPROCESSED, action="deleted", count=records),
            ErasedEntries(table=RECORD_STATES, action="cleared", count=records),
        ]
        log.info(
            "erasure %s of candidate %s, partition %d: %d enrolment(s) blanked, %d link key(s) "
            "and %d unprocessed record(s) deleted",
            command.erasure_id,
            candidate_id,
            partition,
            len(blanked),
            len(markers),
            records,
        )
        return report

    def _blank_enrolments(
        self, command: CandidateErase, partition: int, now: datetime
    ) -> list[str]:
        """Assignment ids blanked by this erasure (on this pass, or on one before a crash)."""
        blanked: list[str] = []
        for state in list(self.ports.enrolments_of(command.candidate_id, partition)):
            if state.erased_at is None:
                self.ports.save_enrolment(blanked_state(state, command.erasure_id, now))
            elif state.erasure_id != command.erasure_id:
                continue  # erased by an earlier erasure
            blanked.append(state.assignment_id)
        return sorted(blanked)

    def _delete_links(self, command: CandidateErase, partition: int, now: datetime) -> set[str]:
        deleted: set[str] = set()
        for key, link in list(self.ports.links_of(command.candidate_id, partition)):
            self.ports.delete_link(key)
            self.ports.put_link_marker(
                link_marker_key(link.npo_id, key),
                ErasedLink(
                    npo_id=link.npo_id,
                    assignment_id=link.assignment_id,
                    erasure_id=command.erasure_id,
                    erased_at=now,
                ),
            )
            deleted.add(key)
        return deleted

    async def _erase_records(
        self,
        command: CandidateErase,
        partition: int,
        npo_ids: set[str],
        deleted_keys: set[str],
        now: datetime,
    ) -> int:
        """Unprocessed progress records tied to one of the deleted links (or to a link erased by
        this erasure before: a step done again)."""
        if not npo_ids:
            return 0
        entries = list(self.ports.unprocessed_of(npo_ids, partition))
        if not entries:
            return 0
        results = await self.progress_of([entry.raw for entry in entries])
        erased = 0
        for entry, result in zip(entries, results, strict=True):
            if not isinstance(result, Progress):
                continue  # unreadable by its plug-in: it cannot be tied to anyone
            keys = links.lookup_keys(entry.raw.npo_id, result)
            if not any(self._erased_here(command, key, deleted_keys) for key in keys):
                continue
            raw = entry.raw
            self.ports.delete_unprocessed(raw.record_key)
            # processed, without error text or intent: the same content is not taken up again
            before = self.ports.record_state(raw.record_key)
            self.ports.put_record_state(processed(before, raw, now))
            erased += 1
        return erased

    def _erased_here(self, command: CandidateErase, key: str, deleted_keys: set[str]) -> bool:
        if key in deleted_keys:
            return True
        npo_id = key.split("/", 1)[0]
        marker = self.ports.link_marker(link_marker_key(npo_id, key))
        return marker is not None and marker.erasure_id == command.erasure_id
