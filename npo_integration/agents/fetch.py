"""Pull agent: runs the pull a fetch request asks for, on the worker that owns that NPO's partition.

Pulls run concurrently (``fetch_concurrency`` actors) so one slow NPO holds one
actor, not the stream. Pull state is written while processing the request,
which is keyed by npo_id like the pull-state table.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from functools import partial
from typing import Any

from faust import StreamT

from npo_integration import metrics, tracing
from npo_integration.agents.dead_letters import dead_letter
from npo_integration.agents.parsed_stream import parsed
from npo_integration.app import app, settings
from npo_integration.delivery.once import Addressed
from npo_integration.errors import RetriableError
from npo_integration.models.codec import encode
from npo_integration.models.events import utc_now
from npo_integration.models.internal import FetchRequest, RawPage, SweepCompleted
from npo_integration.models.npo_config import NpoSource, StreamConfig
from npo_integration.partitioning import partition_for
from npo_integration.pull import schedule
from npo_integration.pull.extract import PullOutcome, StreamPuller
from npo_integration.pull.raw import RecordLimits
from npo_integration.pull.walker import Page, stream_pages
from npo_integration.tables import npo_configs, pull_state
from npo_integration.topics import fetch_requests, raw_records
from npo_integration.worker_resources import batch_producer, http_client, output_log, worker_id

log = logging.getLogger(__name__)

record_limits = RecordLimits(
    max_bytes=settings.max_record_bytes, max_depth=settings.max_record_depth
)


class RawPublishError(RetriableError):
    """A fetched page did not reach the raw-records topic: the pull fails
    there, its cursor not committed."""


async def _publish(pages: list[RawPage]) -> None:
    """Send a fetched page's records and wait until the broker has them all (keyed by npo_id)."""
    topic = raw_records.get_topic_name()
    partitions = await output_log.partitions(topic)
    messages = [
        Addressed(
            topic,
            partition_for(page.npo_id, partitions),
            page.npo_id.encode(),
            encode(page),
            tracing.headers_for(page.trace_id),
        )
        for page in pages
    ]
    errors = [e for e in await batch_producer.send_all(messages) if e is not None]
    if errors:
        raise RawPublishError(
            f"{len(errors)} of {len(messages)} raw page message(s) not acknowledged: {errors[0]!r}"
        )


async def _refuse(npo_id: str, record_key: str, record: Any, reason: str) -> None:
    """A fetched record over the limits: a dead letter (its payload capped), never a raw page."""
    await dead_letter(
        source_topic=raw_records.get_topic_name(),
        reason=reason,
        payload=record,
        key=npo_id,
        npo_id=npo_id,
        record_key=record_key,
    )


async def _sweep_completed(request: FetchRequest, outcome: PullOutcome) -> PullOutcome:
    """A full sweep (a stream pulled in full, or an incremental stream's periodic full walk)
    ended without error: say so after its pages (same key, so same partition),
    so ingestion can remove what it lacks (``ingest/removals.py``). If the marker is not
    acknowledged, the pull counts as failed: no removal is decided from it."""
    marker = SweepCompleted(
        npo_id=request.npo_id,
        stream=request.stream,
        trace_id=request.trace_id,
        records=outcome.distinct,
    )
    topic = raw_records.get_topic_name()
    partitions = await output_log.partitions(topic)
    message = Addressed(
        topic,
        partition_for(marker.npo_id, partitions),
        marker.npo_id.encode(),
        encode(marker),
        tracing.headers_for(marker.trace_id),
    )
    [error] = await batch_producer.send_all([message])
    if error is None:
        return outcome
    return replace(outcome, error=f"sweep end not acknowledged: {error!r}")


def _walk(
    config: NpoSource,
    stream: StreamConfig,
    *,
    cursor: str | None = None,
    parent: Mapping[str, Any] | None = None,
) -> AsyncIterator[Page]:
    """The worker's :class:`~npo_integration.pull.extract.WalkStream`: a def, not a ``partial``,
    so mypy checks it against the protocol's signature."""
    return stream_pages(http_client, config, stream, cursor=cursor, parent=parent)


@app.agent(fetch_requests, concurrency=settings.fetch_concurrency)
async def run_fetch_requests(stream: StreamT[bytes]) -> None:
    async for request in parsed(stream, FetchRequest, fetch_requests):
        with tracing.traced("pull", trace_id=request.trace_id):
            await _run(request)


async def _run(request: FetchRequest) -> None:
    version = npo_configs.current(request.npo_id)
    if version is None or not version.config.active:
        log.info("fetch %s/%s skipped: no active config", request.npo_id, request.stream)
        return
    config = version.config
    found = config.stream(request.stream)
    stream_config = found[1] if found is not None else None
    if stream_config is None or not stream_config.enabled:
        log.info("fetch %s/%s skipped: stream not configured", request.npo_id, request.stream)
        return
    now = utc_now()
    state = pull_state.get(request.npo_id)
    current = state.stream(request.stream)
    if schedule.is_running(current, now, worker_id):
        if request.full_refresh and not current.full_refresh_pending:
            # e.g. raw records expired unread (agents/raw_expiry.py): the run under way started
            # from the old cursor, so the full refresh is the next run's
            pull_state.put(
                state.with_stream(request.stream, schedule.full_refresh_deferred(current))
            )
            log.info(
                "fetch %s/%s: full refresh deferred, a pull is under way",
                request.npo_id,
                request.stream,
            )
            return
        log.info("fetch %s/%s skipped: a pull is under way", request.npo_id, request.stream)
        return
    if request.reason == "schedule" and not schedule.is_due(current, now, worker_id):
        return  # a duplicate request; the run it asks for is done
    if request.full_refresh or current.full_refresh_pending:
        current = schedule.cursor_reset(current)
    state = state.with_stream(
        request.stream, schedule.started(current, now, request.trace_id, worker_id)
    )
    pull_state.put(state)

    def commit_cursor(cursor: str) -> None:
        latest = pull_state.get(request.npo_id)
        pull_state.put(
            latest.with_stream(
                request.stream, schedule.cursor_committed(latest.stream(request.stream), cursor)
            )
        )

    full = schedule.is_full_sweep_due(current, stream_config)
    puller = StreamPuller(
        _walk,
        config,
        request.stream,
        limits=record_limits,
        refuse=partial(_refuse, request.npo_id),
        send_bytes=settings.pull_send_bytes,
    )
    outcome = await puller.run(
        cursor=current.cursor,
        trace_id=request.trace_id,
        publish=_publish,
        commit_cursor=commit_cursor,
        full_sweep=full,
        re_emit=request.re_emit,
        end_sweep=full,
    )
    if outcome.complete and full and not outcome.sweep_sent:
        outcome = await _sweep_completed(request, outcome)
    latest = pull_state.get(request.npo_id)
    done = latest.stream(request.stream)
    interval = stream_config.schedule_seconds
    finished = utc_now()
    if outcome.error is None:
        problem = (
            f"{outcome.refused} record(s) refused and dead-lettered; first: {outcome.refusal}"
            if outcome.refused
            else None
        )
        done = schedule.succeeded(done, finished, interval, outcome.records, problem=problem)
    else:
        done = schedule.failed(done, finished, interval, outcome.error, outcome.records)
    done = schedule.counted(done, full=full, complete=outcome.complete)
    done = schedule.due_again_if_pending(done, finished)
    metrics.pulls.labels(request.stream, "failed" if outcome.error else "succeeded").inc()
    metrics.raw_records.labels(request.stream).inc(outcome.records)
    pull_state.put(latest.with_stream(request.stream, done))
    log.info(
        "pull %s/%s trace=%s%s: %d records in %d pages, error: %s",
        request.npo_id,
        request.stream,
        request.trace_id,
        " (re-emit)" if request.re_emit else " (full refresh)" if request.full_refresh else "",
        outcome.records,
        outcome.pages,
        outcome.error or "none",
    )
