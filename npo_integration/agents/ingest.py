"""Ingestion agents: raw records through their NPO's plug-in to platform events; operator re-drives.

The logic is in ``ingest/ingestor.py`` (Faust-free); this module wires it to the
tables and topics. Raw records are keyed by npo_id, so a record's processed flag,
its unprocessed entry and its NPO's enrolment links all live on the partition
this agent is reading. A record that cannot be transformed is dead-lettered and
stays unprocessed; the stream goes on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Sequence
from functools import partial
from typing import Any

from faust import StreamT
from faust.types import EventT
from pydantic import TypeAdapter

from npo_integration import metrics
from npo_integration.agents.batches import in_partition, partition_batches
from npo_integration.agents.dead_letters import dead_letter
from npo_integration.agents.parsed_stream import decoded, parsed
from npo_integration.app import app, settings
from npo_integration.delivery.once import Addressed, OncePublisher
from npo_integration.ingest.drift import Reads, ShapeWatch, mapping_reads
from npo_integration.ingest.ingestor import (
    Ingestor,
    NoConfigError,
    OutputTopics,
    SourcePartition,
    legacy_kind,
)
from npo_integration.ingest.removals import (
    LiveRecords,
    SweepTracker,
    is_removal,
    plan_sweep,
    removal_record,
)
from npo_integration.ingest.retry import redrive_policy, redriven
from npo_integration.models.codec import encode, versioned_adapter
from npo_integration.models.events import utc_now
from npo_integration.models.internal import (
    IngestCommand,
    RawMessage,
    RawPage,
    RawRecord,
    RemovalDecision,
    SweepCompleted,
)
from npo_integration.models.npo_config import (
    LEGACY_STREAM_KINDS,
    DeclarativeTransform,
    NpoSource,
    StreamConfig,
    StreamKind,
)
from npo_integration.tables import enrolment_links, npo_configs, state_purge
from npo_integration.tables.record_state import holds, payloads, pending, states, unprocessed
from npo_integration.topics import assignment_updated, ingest_commands, offerings, raw_records
from npo_integration.transforms.contract import TransformPlugin
from npo_integration.transforms.invoke import PluginCall
from npo_integration.worker_resources import (
    batch_producer,
    output_log,
    plugin_registry,
    plugin_runner,
)

log = logging.getLogger(__name__)

ACK_TIMEOUT_SECONDS = 30.0
exclusive = asyncio.Lock()
"""Held while a batch is ingested: an erasure (``agents/erasure.py``) takes it to change the same
records and links without a batch in flight writing back what it read before."""
_raw_messages: TypeAdapter[RawPage | RawRecord | SweepCompleted | RemovalDecision] = (
    versioned_adapter(RawMessage)
)
sweeps = SweepTracker()


def _stream(npo_id: str, stream: str) -> tuple[NpoSource, StreamConfig]:
    version = npo_configs.current(npo_id)
    if version is None:
        raise NoConfigError(f"no config for NPO {npo_id!r}")
    found = version.config.stream(stream)
    if found is None:
        raise NoConfigError(f"NPO {npo_id!r} has no stream {stream!r}")
    return found


def plugin_for(npo_id: str, stream: str) -> TransformPlugin:
    """The plug-in of the stream's source."""
    return plugin_registry.for_config(_stream(npo_id, stream)[0])


def stream_kind(npo_id: str, stream: str) -> StreamKind:
    """Legacy stream keys' kinds are fixed (no config read per record); others are configured."""
    if stream in LEGACY_STREAM_KINDS:
        return legacy_kind(npo_id, stream)
    return _stream(npo_id, stream)[1].kind


def stream_reads(npo_id: str, stream: str) -> Reads:
    """What the stream's mapping reads (``None``: a plug-in's, unknown)."""
    source, config = _stream(npo_id, stream)
    transform = source.transform
    if isinstance(transform, DeclarativeTransform):
        return mapping_reads(transform.mapping, config.kind)
    return None


shapes = ShapeWatch(stream_reads, on_drift=lambda kind: metrics.schema_drift.labels(kind).inc())


async def run_plugins(calls: Sequence[PluginCall]) -> list[Any]:
    """The batch's plug-in calls in the shared pool, each bounded in time,
    per-NPO hung-call accounting."""
    return await plugin_runner.map(calls, timeout=settings.transform_timeout_seconds)


async def _send_all(messages: Sequence[Addressed]) -> list[BaseException | None]:
    """Every event to its explicit partition, one wait for all (what is not acknowledged in
    time fails its record, which keeps its intent for the retry's check)."""
    errors = await batch_producer.send_all(messages, timeout=ACK_TIMEOUT_SECONDS)
    sent = Counter(
        message.topic for message, error in zip(messages, errors, strict=True) if error is None
    )
    for topic, count in sent.items():
        metrics.platform_events.labels(topic).inc(count)
    return errors


async def _dead_letter(raw: RawRecord, reason: str) -> None:
    await dead_letter(
        source_topic=raw_records.get_topic_name(),
        reason=reason,
        payload=raw.payload,
        key=raw.npo_id,
        npo_id=raw.npo_id,
        record_key=raw.record_key,
    )


retry_policy = redrive_policy(settings.ingest_retry_backoff_seconds, settings.ingest_max_attempts)
ingestor = Ingestor(
    states=states,
    unprocessed=unprocessed,
    pending=pending,
    plugin_for=plugin_for,
    run_plugins=run_plugins,
    find_link=enrolment_links.find,
    publisher=OncePublisher(output_log, _send_all, utc_now),
    dead_letter=_dead_letter,
    topics=OutputTopics(
        offerings=offerings.get_topic_name(), assignment_updated=assignment_updated.get_topic_name()
    ),
    retry=retry_policy,
    clock=utc_now,
    kind_of=stream_kind,
    payloads=payloads,
    shapes=shapes,
)


def _full_sweep(npo_id: str, stream: str) -> bool:
    """May the stream's pages be a full sweep (a ``SweepCompleted`` follows a complete one)?
    An incremental stream's only with ``full_sweep_every`` (its first run's marker, without it,
    finds nothing published)."""
    version = npo_configs.current(npo_id)
    found = version.config.stream(stream) if version is not None else None
    config = found[1] if found is not None else None
    return config is not None and (
        config.incremental is None or config.full_sweep_every is not None
    )


def _sweep_ended(marker: SweepCompleted) -> list[RawRecord]:
    """A complete sweep's end: its removals as records to ingest, or its hold."""
    seen = sweeps.close((marker.npo_id, marker.stream), marker.trace_id)
    hold = holds.get(marker.npo_id, marker.stream)
    plan = plan_sweep(
        marker,
        seen,
        LiveRecords(*states.live(marker.npo_id, marker.stream, seen)),
        hold,
        hold_share=settings.removal_hold_share,
        now=utc_now(),
    )
    if plan is None:
        return []
    if plan.hold is not None:
        holds.put(plan.hold)
        metrics.removals.labels(marker.stream, "held").inc(plan.hold.would_remove)
        log.warning(
            "sweep %s/%s trace=%s: mass removal held (%d of %d published, %d returned)",
            marker.npo_id,
            marker.stream,
            marker.trace_id,
            plan.hold.would_remove,
            plan.hold.published,
            plan.hold.seen,
        )
        return []
    if plan.clear_hold:
        holds.delete(marker.npo_id, marker.stream)
        log.info("sweep %s/%s: removal hold cleared", marker.npo_id, marker.stream)
    if plan.remove:
        metrics.removals.labels(marker.stream, "removed").inc(len(plan.remove))
        log.info(
            "sweep %s/%s trace=%s: %d record(s) absent, removed",
            marker.npo_id,
            marker.stream,
            marker.trace_id,
            len(plan.remove),
        )
    return [removal_record(state, marker) for state in plan.remove]


def _ended_or_logged(marker: SweepCompleted) -> list[RawRecord]:
    """:func:`_sweep_ended`; a failure is logged and the stream goes on (the next sweep decides
    again)."""
    try:
        return _sweep_ended(marker)
    except Exception:
        log.exception("%s of %s not applied", marker.event_type, marker.npo_id)
        return []


def _decided(decision: RemovalDecision) -> None:
    hold = holds.get(decision.npo_id, decision.stream)
    if hold is None:
        log.info(
            "removal %s of %s/%s: nothing held", decision.decision, decision.npo_id, decision.stream
        )
        return
    if decision.decision == "reject":
        holds.delete(decision.npo_id, decision.stream)
    else:
        holds.put(
            hold.model_copy(
                update={"confirmed_at": decision.occurred_at, "confirmed_by": decision.requested_by}
            )
        )
    log.warning(
        "removal hold of %s/%s (%d record(s)) %sed by %s",
        decision.npo_id,
        decision.stream,
        hold.would_remove,
        decision.decision,
        decision.requested_by,
    )


async def _unpacked(events: Sequence[EventT[bytes]]) -> list[RawRecord]:
    """The records of a partition's messages, in order (a complete sweep's removals at its end);
    a message that does not parse is dead-lettered. Call in the partition's scope."""
    messages = await decoded(events, _raw_messages, raw_records)
    records: list[RawRecord] = []
    for message in messages:
        if isinstance(message, RawPage):
            page = message.unpacked()
            # the pull says whether its pages are of a sweep: no config to read per page (a
            # decoded config is evicted before its pages are ingested when thousands are due)
            in_sweep = message.in_sweep
            if in_sweep is None:  # a re-drive, a replay, or written before pages said so
                in_sweep = _full_sweep(message.npo_id, message.stream)
            if in_sweep:
                sweeps.saw(
                    (message.npo_id, message.stream),
                    message.trace_id,
                    message.fetched_at,
                    (r.record_key for r in page if not is_removal(r)),
                )
            records.extend(page)
            sweep_end = message.sweep_end()
            if sweep_end is not None:
                records.extend(_ended_or_logged(sweep_end))
        elif isinstance(message, SweepCompleted):
            records.extend(_ended_or_logged(message))
        elif isinstance(message, RemovalDecision):
            try:
                _decided(message)
            except Exception:  # the stream goes on; the operator decides again
                log.exception("%s of %s not applied", message.event_type, message.npo_id)
        else:
            records.append(message)
    return records


async def republish(raw: RawRecord) -> None:
    """Re-drive: the record again onto raw-records (a page of one), keyed by npo_id
    (so onto its own partition)."""
    await raw_records.send(key=raw.npo_id.encode(), value=encode(RawPage.of(redriven(raw))))


@app.agent(raw_records)
async def ingest_raw_records(stream: StreamT[bytes]) -> None:
    """Batches of raw records, every partition of a batch together (``agents/batches.py``)."""
    async for groups in partition_batches(app, stream, size=settings.ingest_batch_size):
        # The lock covers reading the batch too: a sweep's end reads the record states its
        # removals come from, and an erasure must not change them in between.
        async with exclusive:
            parts = []
            oldest = min(events[0].message.timestamp for _, events in groups)
            metrics.raw_records_age_seconds.set(max(0.0, time.time() - oldest))
            for partition, events in groups:
                with in_partition(events[-1]):
                    records = await _unpacked(events)
                parts.append(SourcePartition(partition, records, partial(in_partition, events[-1])))
            try:
                outcomes = await ingestor.ingest(parts)
            except Exception as exc:
                count = sum(len(p.records) for p in parts)
                log.exception("a batch of %d raw record(s) failed", count)
                reason = f"{type(exc).__name__}: {exc}"
                await asyncio.gather(*(_dead_letter(r, reason) for p in parts for r in p.records))
                continue
        counts = Counter(outcome.status for part in outcomes for outcome in part)
        for status, count in counts.items():
            metrics.ingested_records.labels(status).inc(count)


@app.agent(ingest_commands)
async def run_ingest_commands(stream: StreamT[bytes]) -> None:
    """Keyed by npo_id like raw-records: this worker holds that NPO's unprocessed records."""
    async for command in parsed(stream, IngestCommand, ingest_commands):
        if command.event_type == "ingest.purge":
            async with exclusive:  # no batch in flight writes back what the purge deletes
                try:
                    await state_purge.purge_step(command)
                except Exception:
                    log.exception(
                        "state purge of NPO %s failed; the next sweep asks again", command.npo_id
                    )
            continue
        pending = unprocessed.of_npo(command.npo_id)
        try:
            for entry in pending:
                await republish(entry.raw)
        except Exception:
            log.exception("re-drive of NPO %s failed; ask again", command.npo_id)
            continue
        log.info(
            "re-drive of NPO %s (%s, command %s): %d unprocessed record(s) re-emitted",
            command.npo_id,
            command.requested_by,
            command.event_id,
            len(pending),
        )
