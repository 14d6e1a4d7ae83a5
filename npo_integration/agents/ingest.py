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
from collections.abc import Callable
from typing import Any

from faust import StreamT

from npo_integration.app import app, settings
from npo_integration.agents.inbox import parsed
from npo_integration.dead_letters import dead_letter
from npo_integration.delivery.once import OncePublisher
from npo_integration.ingest.ingestor import Ingestor, NoConfigError, OutputTopics
from npo_integration.ingest.retry import RetryPolicy, redriven
from npo_integration.models.codec import encode
from npo_integration.models.events import utc_now
from npo_integration.models.internal import IngestCommand, RawRecord
from npo_integration.runtime import output_log, plugin_registry, plugin_runner
from npo_integration.tables import enrolment_links, npo_configs
from npo_integration.tables.record_state import states, unprocessed
from npo_integration.topics import assignment_updated, ingest_commands, offerings, raw_records
from npo_integration.transforms.contract import TransformPlugin

log = logging.getLogger(__name__)

ACK_TIMEOUT_SECONDS = 30.0
_OUTPUTS = {topic.get_topic_name(): topic for topic in (offerings, assignment_updated)}


def _plugin_for(npo_id: str) -> TransformPlugin:
    version = npo_configs.current(npo_id)
    if version is None:
        raise NoConfigError(f"no config for NPO {npo_id!r}")
    return plugin_registry.for_config(version.config)


async def _run_plugin(fn: Callable[..., Any], record: Any, *, key: str, output: type[Any]) -> Any:
    """One plug-in call in the shared pool, bounded in time, per-NPO hung-call accounting (``key``)."""
    return await plugin_runner.call(
        fn, record, timeout=settings.transform_timeout_seconds, key=key, output=output, optional=True
    )


async def _send(topic: str, partition: int, key: bytes, value: bytes) -> None:
    """Send to an explicit partition and wait for the broker's acknowledgement (bounded: a stuck
    send fails the record, which keeps its intent and is checked on the retry)."""
    sent = await asyncio.wait_for(_OUTPUTS[topic].send(key=key, value=value, partition=partition), ACK_TIMEOUT_SECONDS)
    await asyncio.wait_for(asyncio.shield(sent), ACK_TIMEOUT_SECONDS)


async def _dead_letter(raw: RawRecord, reason: str) -> None:
    await dead_letter(
        source_topic=raw_records.get_topic_name(),
        reason=reason,
        payload=raw.payload,
        key=raw.npo_id,
        npo_id=raw.npo_id,
        record_key=raw.record_key,
    )


retry_policy = RetryPolicy(
    backoff_seconds=settings.ingest_retry_backoff_seconds, max_attempts=settings.ingest_max_attempts
)
ingestor = Ingestor(
    states=states,
    unprocessed=unprocessed,
    plugin_for=_plugin_for,
    run_plugin=_run_plugin,
    find_link=enrolment_links.find,
    publisher=OncePublisher(output_log, _send, utc_now),
    dead_letter=_dead_letter,
    topics=OutputTopics(
        offerings=offerings.get_topic_name(), assignment_updated=assignment_updated.get_topic_name()
    ),
    retry=retry_policy,
    clock=utc_now,
)


async def republish(raw: RawRecord) -> None:
    """Re-drive: the record again onto raw-records, keyed by npo_id (so onto its own partition)."""
    await raw_records.send(key=raw.npo_id.encode(), value=encode(redriven(raw)))


@app.agent(raw_records)
async def ingest_raw_records(stream: StreamT[bytes]) -> None:
    async for raw in parsed(stream, RawRecord, raw_records):
        try:
            outcome = await ingestor.ingest(raw)
        except Exception as exc:  # noqa: BLE001 - the stream goes on; the record is dead-lettered
            log.exception("record %s: ingestion failed", raw.record_key)
            await _dead_letter(raw, f"{type(exc).__name__}: {exc}")
            continue
        log.debug("record %s: %s", raw.record_key, outcome.status)


@app.agent(ingest_commands)
async def run_ingest_commands(stream: StreamT[bytes]) -> None:
    """Keyed by npo_id like raw-records: this worker holds that NPO's unprocessed records."""
    async for command in parsed(stream, IngestCommand, ingest_commands):
        pending = unprocessed.of_npo(command.npo_id)
        try:
            for entry in pending:
                await republish(entry.raw)
        except Exception:  # noqa: BLE001 - a broker error fails this command, not the agent
            log.exception("re-drive of NPO %s failed; ask again", command.npo_id)
            continue
        log.info(
            "re-drive of NPO %s (%s, command %s): %d unprocessed record(s) re-emitted",
            command.npo_id, command.requested_by, command.event_id, len(pending),
        )
