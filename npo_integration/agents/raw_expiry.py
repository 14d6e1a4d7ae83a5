"""Raw records that expired before ingestion read them: nothing lost, only delayed.

When ingestion is down (or behind) for longer than the raw-records topic's retention
(``NPO_RAW_RECORDS_RETENTION_HOURS``), the broker deletes raw pages this worker has not read; its
next fetch there is out of range and the consumer moves to the earliest offset left
(``consumer_auto_offset_reset = "earliest"``). The pages in between were fetched from the NPOs
but never ingested. A full stream's next pull serves those records again, but an incremental
stream's cursor has moved past them: without more, they are lost for good.

``faust_patches`` (4) reports each such reset on a raw-records partition here, before anything
past the gap is consumed. For a gap, every NPO on that partition gets a full-refresh pull of each
of its enabled streams: a fetch request (a command on the fetch-requests partition of the same
number, whose owner writes the pull state), which forgets the cursor and walks from the start.
Records ingested before are unchanged (content hashes): only the expired ones are published.
The gap is counted in ``npo_raw_records_expired_total{partition}`` and logged as a warning that
names the partition and its offsets (docs/operations.md, "Raw records expired unread").
"""

from __future__ import annotations

import asyncio
import logging

from npo_integration import metrics
from npo_integration.app import app
from npo_integration.faust_patches import OutOfRange, watch_out_of_range
from npo_integration.pull.raw_expiry import expired, streams_on_partition
from npo_integration.tables import npo_configs
from npo_integration.timers.pull_scheduler import request_pull
from npo_integration.topics import raw_records
from npo_integration.worker_resources import output_log

log = logging.getLogger(__name__)

CONFIGS_CAUGHT_UP_SECONDS = 10.0
"""How long the NPO configs may take to catch up before the NPOs of a gap are listed."""

SETTLED_POLL_SECONDS = 0.5

_acted_on: set[OutOfRange] = set()
"""Gaps acted on: Faust seeks a partition to its committed offset again once its tables are
recovered, so the same gap may be reported twice; it is counted and re-pulled once."""
_pending: set[OutOfRange] = set()
"""Gaps found while the worker rebalances (its tables and the NPO configs recovering: which NPOs
a partition holds is not known yet), acted on once it is done."""
_settling: asyncio.Task[None] | None = None


async def on_out_of_range(resets: list[OutOfRange]) -> None:
    """Each new gap: counted, logged, and its NPOs' streams re-pulled in full; at once (the
    fetcher waits) unless the worker is rebalancing, then once it is done."""
    global _settling
    for found in resets:
        if not expired(found):
            log.info(
                "raw-records[%d] reset from offset %d (log start %d): nothing expired",
                found.partition,
                found.position,
                found.log_start,
            )
        elif found not in _acted_on:
            _pending.add(found)
    if not _pending:
        return
    if not app.rebalancing:
        await _act_on_pending()
    elif _settling is None or _settling.done():
        _settling = asyncio.create_task(_act_when_settled())


async def _act_when_settled() -> None:
    while app.rebalancing:  # noqa: ASYNC110  (Faust has a flag for it, no event)
        await asyncio.sleep(SETTLED_POLL_SECONDS)
    await _act_on_pending()


async def _act_on_pending() -> None:
    gaps = sorted(_pending)
    _pending.difference_update(gaps)
    if not await npo_configs.caught_up(CONFIGS_CAUGHT_UP_SECONDS):
        log.warning("NPO configs not caught up: the re-pulls below may miss an NPO just added")
    configs = [version.config for version in npo_configs.all_current()]
    partitions = await output_log.partitions(raw_records.get_topic_name())
    for found in gaps:
        _acted_on.add(found)
        count = expired(found)
        metrics.raw_records_expired.labels(str(found.partition)).inc(count)
        streams = streams_on_partition(configs, found.partition, partitions)
        log.warning(
            "raw-records[%d]: offsets %d to %d (%d) expired before ingestion read them "
            "(NPO_RAW_RECORDS_RETENTION_HOURS); full refresh of %d stream(s): %s",
            found.partition,
            found.position,
            found.log_start - 1,
            count,
            len(streams),
            ", ".join(f"{npo_id}/{stream}" for npo_id, stream in streams) or "none",
        )
        for npo_id, stream in streams:
            try:
                await request_pull(npo_id, stream, reason="manual", full_refresh=True)
            except Exception:
                log.exception(
                    "full refresh of %s/%s after expired raw records not requested: "
                    "request it by hand (npo-integration fetch %s --full-refresh)",
                    npo_id,
                    stream,
                    npo_id,
                )


watch_out_of_range(raw_records.get_topic_name(), on_out_of_range, lambda: app.loop)
