"""Erasure steps, wired to the tables: the enrolment agent hands each ``candidate.erase`` command
here, after the enrolments in flight have finished (``agents/enrol.py``).

An erasure walks the partitions one after another: the command arrives on partition 0 of
enrolment-commands; the owner of each partition erases what that partition holds of the
candidate (``erasure/eraser.py``), waits until the broker has every change, then sends the
command on to the next partition with what was removed so far; the owner of the last one
publishes ``candidate.erased``. All the service's topics have the same partition count and
Faust assigns partition N of each to the same worker, so a step sees that partition's
enrolments, links and records in its own tables and writes them in the command's partition.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from npo_integration.agents import ingest
from npo_integration.app import app, settings
from npo_integration.delivery.once import Addressed
from npo_integration.erasure.eraser import Eraser
from npo_integration.errors import NpoIntegrationError
from npo_integration.models.codec import encode
from npo_integration.models.enrolment import EnrolmentState
from npo_integration.models.erasure import (
    CandidateErase,
    CandidateErased,
    ErasedCandidate,
    ErasedEntries,
    ErasedLink,
    erased_event_id,
    merged,
)
from npo_integration.models.events import utc_now
from npo_integration.models.internal import EnrolmentLink, RawRecord
from npo_integration.models.state import RecordState, UnprocessedRecord
from npo_integration.tables import enrolment_links, enrolments, erased_candidates
from npo_integration.tables.record_state import states, unprocessed
from npo_integration.topics import candidate_erased
from npo_integration.transforms.invoke import PluginCall, plugin_call
from npo_integration.worker_resources import batch_producer

log = logging.getLogger(__name__)

COMMANDS_TOPIC = settings.topic_enrolment_commands
ERASED_TOPIC = candidate_erased.get_topic_name()


class FaustErasurePorts:
    """The tables of this worker (a step reads and writes only its partition's keys)."""

    def enrolments_of(self, candidate_id: str, partition: int) -> Iterable[EnrolmentState]:
        return enrolments.of_candidate(candidate_id, partition)

    def save_enrolment(self, state: EnrolmentState) -> None:
        enrolments.put(state)

    def links_of(self, candidate_id: str, partition: int) -> Iterable[tuple[str, EnrolmentLink]]:
        return enrolment_links.of_candidate(candidate_id, partition, settings.topic_partitions)

    def delete_link(self, key: str) -> None:
        enrolment_links.delete(key)

    def put_link_marker(self, key: str, marker: ErasedLink) -> None:
        enrolment_links.put_marker(key, marker)

    def link_marker(self, key: str) -> ErasedLink | None:
        return enrolment_links.marker(key)

    def link_markers_of(self, erasure_id: str, partition: int) -> Iterable[ErasedLink]:
        return enrolment_links.markers_of(erasure_id, partition, settings.topic_partitions)

    def unprocessed_of(self, npo_ids: set[str], partition: int) -> Iterable[UnprocessedRecord]:
        return [
            entry
            for entry in unprocessed.items()
            if entry.raw.npo_id in npo_ids and _is_progress(entry.raw)
        ]

    def delete_unprocessed(self, record_key: str) -> None:
        unprocessed.delete(record_key)

    def record_state(self, record_key: str) -> RecordState | None:
        return states.get(record_key)

    def put_record_state(self, state: RecordState) -> None:
        states.put(state)

    def mark_candidate(self, candidate_id: str, marker: ErasedCandidate) -> None:
        erased_candidates.put(candidate_id, marker)


def _is_progress(raw: RawRecord) -> bool:
    try:
        return ingest.stream_kind(raw.npo_id, raw.stream) == "progress"
    except NpoIntegrationError:  # a stream no longer configured
        return False


async def _progress_of(raws: Sequence[RawRecord]) -> list[Any]:
    """Each record through its NPO's plug-in, as ingestion runs it (an error is that record's)."""
    calls: list[PluginCall] = []
    results: list[Any] = [None] * len(raws)
    placed: list[int] = []
    for index, raw in enumerate(raws):
        try:
            plugin = ingest.plugin_for(raw.npo_id, raw.stream)
            calls.append(plugin_call(plugin, "progress", raw.payload, key=raw.npo_id))
            placed.append(index)
        except Exception as exc:
            results[index] = exc
    for index, result in zip(placed, await ingest.run_plugins(calls) if calls else [], strict=True):
        results[index] = result
    return results


eraser = Eraser(FaustErasurePorts(), _progress_of, utc_now)


async def erase_step(
    command: CandidateErase, partition: int, may_finish: Callable[[], bool]
) -> list[ErasedEntries] | None:
    """Erase ``partition``'s part, make it durable, then hand on (or publish the event). Returns
    what was removed so far, or ``None`` when the partition was handed over meanwhile (the new
    owner does the step again)."""
    async with ingest.exclusive:
        report = await eraser.erase(command, partition)
    await enrolments.wait_acked()
    await erased_candidates.wait_acked()
    await states.wait_acked()
    await enrolment_links.wait_acked()
    await app.producer.flush()  # the unprocessed records table's changelog (Faust's producer)
    if not may_finish():
        return None
    removed = merged(command.removed, report)
    following = partition + 1
    if following < command.partitions:
        onward = CandidateErase(
            erasure_id=command.erasure_id,
            candidate_id=command.candidate_id,
            partition=following,
            partitions=command.partitions,
            requested_by=command.requested_by,
            requested_at=command.requested_at,
            removed=removed,
        )
        await batch_producer.send_all_or_raise(
            [Addressed(COMMANDS_TOPIC, following, command.candidate_id.encode(), encode(onward))]
        )
        return removed
    done = CandidateErased(
        event_id=erased_event_id(command.erasure_id),
        erasure_id=command.erasure_id,
        candidate_id=command.candidate_id,
        requested_by=command.requested_by,
        requested_at=command.requested_at,
        partitions=command.partitions,
        removed=removed,
    )
    await batch_producer.send_one(ERASED_TOPIC, command.candidate_id.encode(), encode(done))
    log.info(
        "erasure %s of candidate %s done on %d partition(s): %s",
        command.erasure_id,
        command.candidate_id,
        command.partitions,
        ", ".join(f"{e.table} {e.action} {e.count}" for e in removed),
    )
    return removed
