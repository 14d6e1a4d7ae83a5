"""The Data Ingestion Scheduler: re-drives unprocessed records whose backoff
is over, on the owning worker.

A timer cannot write tables (there is no current event), so a re-drive is the
record again on raw-records, keyed by npo_id: the ingestion agent processes it
like a fetch and updates attempts and the next attempt. Each worker re-drives
only records on the raw-records partitions it actively owns, at most
``ingest_redrive_batch`` per tick, and only those below ``ingest_max_attempts``.
"""

from __future__ import annotations

import logging
import time

from npo_integration.agents.ingest import republish, retry_policy
from npo_integration.app import settings
from npo_integration.ingest.retry import is_due
from npo_integration.models.events import utc_now
from npo_integration.partitioning import partition_for
from npo_integration.tables.record_state import unprocessed
from npo_integration.timers.periodic import RecentSends, failed, owned_partitions, periodic
from npo_integration.topics import raw_records

log = logging.getLogger(__name__)

_sent = RecentSends(resend_after=120.0)
"""Re-drives sent but not processed yet (same attempt count): not re-sent every tick."""


@periodic(settings.ingest_redrive_tick_seconds)
async def redrive_unprocessed() -> None:
    owned = owned_partitions(raw_records)
    if not owned:
        return
    now, monotonic = utc_now(), time.monotonic()
    _sent.forget_old(monotonic)
    sent = 0
    for entry in unprocessed.items():
        if sent >= settings.ingest_redrive_batch:
            break
        raw = entry.raw
        if partition_for(raw.npo_id, settings.topic_partitions) not in owned:
            continue
        if not is_due(retry_policy, entry, now):
            continue
        if not _sent.claim(raw.record_key, entry.attempts, monotonic):
            continue
        try:
            await republish(raw)
        except Exception:
            failed("redrive_unprocessed", "re-drive of %s failed", raw.record_key)
            break
        sent += 1
    if sent:
        log.info("re-drove %d unprocessed record(s)", sent)
