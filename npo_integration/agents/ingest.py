"""Ingestion agent: each raw record through its NPO's plug-in to a platform event, then flagged processed.

A record that cannot be transformed is dead-lettered and stays unprocessed;
the stream goes on. Raw records are keyed by npo_id, so a record's processed
flag lives on the partition this agent is reading.
"""

from __future__ import annotations

import logging

from faust import StreamT

from npo_integration.app import app, settings
from npo_integration.dead_letters import dead_letter, payload_of
from npo_integration.errors import NpoIntegrationError, SkippableError
from npo_integration.ingest import flags
from npo_integration.ingest.offerings import offering_event, offering_key
from npo_integration.models.codec import decode, encode, key_of
from npo_integration.models.events import Offering, utc_now
from npo_integration.models.internal import RawRecord
from npo_integration.models.state import RecordState
from npo_integration.runtime import plugin_registry, plugin_runner
from npo_integration.tables import npo_configs, record_state
from npo_integration.topics import offerings, raw_records

log = logging.getLogger(__name__)


class UnsupportedStreamError(SkippableError):
    """A record of a stream this worker cannot ingest."""


class NoConfigError(SkippableError):
    """A record arrived for an NPO with no config (removed, or not yet replicated)."""


@app.agent(raw_records)
async def ingest_raw_records(stream: StreamT[bytes]) -> None:
    async for event in stream.events():
        try:
            raw = decode(RawRecord, event.value)
        except NpoIntegrationError as exc:
            await dead_letter(
                source_topic=raw_records.get_topic_name(),
                reason=str(exc),
                payload=payload_of(event.value),
                key=key_of(event.key),
            )
            continue
        await ingest(raw)


async def ingest(raw: RawRecord) -> None:
    state = record_state.get(raw.record_key)
    if not flags.needs_processing(state, raw):
        return
    try:
        await _transform_and_publish(raw, state)
    except NpoIntegrationError as exc:
        reason = f"{type(exc).__name__}: {exc}"
        record_state.put(flags.failed(state, raw, reason, utc_now()))
        await dead_letter(
            source_topic=raw_records.get_topic_name(),
            reason=reason,
            payload=raw.payload,
            key=raw.npo_id,
            npo_id=raw.npo_id,
            record_key=raw.record_key,
        )
        return
    record_state.put(flags.processed(state, raw, utc_now()))


async def _transform_and_publish(raw: RawRecord, state: RecordState | None) -> None:
    version = npo_configs.current(raw.npo_id)
    if version is None:
        raise NoConfigError(f"no config for NPO {raw.npo_id!r}")
    plugin = plugin_registry.for_config(version.config)
    if raw.stream == "offerings":
        offering: Offering | None = await plugin_runner.call(
            plugin.offering,
            raw.payload,
            timeout=settings.transform_timeout_seconds,
            key=raw.npo_id,
            output=Offering,
            optional=True,
        )
        if offering is None:
            log.debug("record %s is not an offering; skipped", raw.record_key)
            return
        out = offering_event(raw, offering, state)
        await (await offerings.send(key=offering_key(raw.npo_id, offering).encode(), value=encode(out)))
        return
    raise UnsupportedStreamError(f"stream {raw.stream!r} is not ingested yet")
