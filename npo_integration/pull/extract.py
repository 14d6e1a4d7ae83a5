"""Pulling one NPO stream onto the raw-records topic: pages sent together (up to
``NPO_PULL_SEND_BYTES`` of records), each page's cursor committed once its records are sent.

Faust-free on purpose: the agent hands in how to publish and how to commit, so
this logic is unit-testable and the agent stays a thin adapter.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from npo_integration import metrics
from npo_integration.errors import NpoIntegrationError
from npo_integration.expressions import parse_path
from npo_integration.log_context import log_context
from npo_integration.models.internal import RawItem, RawPage
from npo_integration.models.npo_config import (
    NpoIntegrationConfig,
    NpoSource,
    StreamConfig,
    StreamName,
)
from npo_integration.pull.raw import (
    RecordLimits,
    RecordRefusedError,
    content_hash,
    raw_item,
    raw_pages,
    record_key,
)
from npo_integration.pull.records import newer_cursor, record_id
from npo_integration.pull.walker import Page
from npo_integration.settings import PULL_SEND_BYTES
from npo_integration.tracing import w3c_trace_id

log = logging.getLogger(__name__)

PublishPage = Callable[[list[RawPage]], Awaitable[None]]
"""Sends the records of pages read (one or more messages) and returns
once the broker has them all."""
CommitCursor = Callable[[str], None]
RefuseRecord = Callable[[str, Any, str], Awaitable[None]]
"""``(record_key, record, reason)``: dead-letters a record over the limits; the pull goes on."""


async def _log_refusal(key: str, record: Any, reason: str) -> None:
    log.warning("record %s refused: %s", key, reason)


class WalkStream(Protocol):
    """Pages of one stream of an NPO's source: :func:`~npo_integration.pull.walker.stream_pages`
    bound to the worker's HTTP client (a test serves its own pages)."""

    def __call__(
        self,
        config: NpoSource,
        stream: StreamConfig,
        *,
        cursor: str | None = None,
        parent: Mapping[str, Any] | None = None,
    ) -> AsyncIterator[Page]: ...


@dataclass(frozen=True)
class PullOutcome:
    records: int
    pages: int
    error: str | None = None
    refused: int = 0
    """Records over the size or depth limits, dead-lettered (the run itself may succeed)."""
    refusal: str | None = None
    """The first refused record's key and reason."""
    distinct: int = 0
    """Distinct records sent (a record on two pages counts once): what a complete sweep's
    ``SweepCompleted`` marker announces."""
    sweep_sent: bool = False
    """The sweep's end went out on its last page (``RawPage.sweep_records``): no marker to send."""

    @property
    def complete(self) -> bool:
        """The sweep saw the whole stream: ended without error (not failed part-way, not at its
        page cap, not cut by the circuit breaker) and refused no record (a refused record is
        still at the NPO: its absence from the sweep must not read as a removal)."""
        return self.error is None and self.refused == 0


class StreamPuller:
    """Runs one pull of one NPO stream (``stream``: its key, ``NpoIntegrationConfig.stream``)."""

    def __init__(
        self,
        walk: WalkStream,
        config: NpoIntegrationConfig,
        stream: StreamName,
        *,
        limits: RecordLimits | None = None,
        refuse: RefuseRecord = _log_refusal,
        send_bytes: int = PULL_SEND_BYTES,
    ) -> None:
        self._walk = walk
        self._send_bytes = send_bytes
        self._limits = limits or RecordLimits()
        self._refuse = refuse
        self._name = stream
        found = config.stream(stream)
        if found is None:
            raise ValueError(f"{config.npo_id} has no {stream} stream")
        self._config: NpoSource = found[0]
        self._stream: StreamConfig = found[1]
        self._record_id_path = parse_path(self._stream.record_id_path)

    async def run(
        self,
        *,
        cursor: str | None,
        trace_id: str,
        publish: PublishPage,
        commit_cursor: CommitCursor,
        full_sweep: bool = False,
        re_emit: bool = False,
        end_sweep: bool = False,
    ) -> PullOutcome:
        """``full_sweep``: walk an incremental stream from its start (``incremental.initial``);
        the committed cursor only moves forward (from ``cursor``: a full refresh passes none).
        ``re_emit``: the pages say so, and ingestion makes an event of each record again.
        ``end_sweep``: the walk is a sweep whose end ingestion needs; once complete, its last
        page says so (``PullOutcome.sweep_sent``), unless nothing was left to send with it.
        Its log lines carry the NPO, stream and trace id; its duration goes to
        ``npo_pull_seconds``."""
        started = time.perf_counter()
        with log_context(
            npo_id=self._config.npo_id, stream=self._name, trace_id=w3c_trace_id(trace_id)
        ):
            outcome = await self._walk_and_publish(
                cursor=cursor,
                trace_id=trace_id,
                publish=publish,
                commit_cursor=commit_cursor,
                full_sweep=full_sweep,
                re_emit=re_emit,
                end_sweep=end_sweep,
            )
        metrics.pull_seconds.labels(self._name, "failed" if outcome.error else "succeeded").observe(
            time.perf_counter() - started
        )
        return outcome

    async def _walk_and_publish(
        self,
        *,
        cursor: str | None,
        trace_id: str,
        publish: PublishPage,
        commit_cursor: CommitCursor,
        full_sweep: bool,
        re_emit: bool,
        end_sweep: bool,
    ) -> PullOutcome:
        records = pages = refused = 0
        sweep_sent = False
        keys: set[str] = set()
        refusal: str | None = None
        error: str | None
        best_cursor = cursor
        # Per-page commits assume the NPO returns records in cursor order (documented in the
        # config reference); a child stream spans many parents, so it commits once, at the end.
        per_page = self._stream.parent_stream is None
        npo_id = self._config.npo_id
        unsent: list[tuple[RawItem, int]] = []
        unsent_bytes = 0
        uncommitted: str | None = None  # the cursor of pages read, committed once they are sent

        async def send(*, last: bool = False) -> None:
            nonlocal unsent, unsent_bytes, uncommitted, records, sweep_sent
            if unsent:
                # a complete sweep's end rides on its last page: one message less to send and read
                ends = last and end_sweep and not refused
                out = raw_pages(
                    npo_id,
                    self._name,
                    unsent,
                    trace_id,
                    re_emit=re_emit,
                    sweep_records=len(keys) if ends else None,
                    in_sweep=end_sweep,
                )
                await publish(out)
                sweep_sent = ends
                records += len(unsent)
                unsent, unsent_bytes = [], 0
            if uncommitted is not None:
                commit_cursor(uncommitted)
                uncommitted = None

        try:
            try:
                async for page_records, page_cursor in self._pages(None if full_sweep else cursor):
                    if unsent_bytes >= self._send_bytes:
                        await send()  # the pages before this one: the last goes out at the end
                    for record in page_records:
                        try:
                            item = self._item(record)
                        except RecordRefusedError as exc:
                            key = self._key_of_refused(record)
                            refused += 1
                            refusal = refusal or f"{key}: {exc}"
                            await self._refuse(key, record, str(exc))
                            continue
                        unsent.append(item)
                        unsent_bytes += item[1]
                        keys.add(item[0].record_key)
                    pages += 1
                    newer = newer_cursor(best_cursor, page_cursor)
                    if newer is not None and newer != best_cursor:  # page_cursor is the later
                        best_cursor = newer
                        if per_page:
                            uncommitted = best_cursor
            except NpoIntegrationError:
                try:  # the pages read before the failure are kept, their cursor moved
                    await send()
                except NpoIntegrationError as not_sent:
                    log.warning("%s/%s: pages read not sent: %s", npo_id, self._name, not_sent)
                raise
            await send(last=True)
            if not per_page and best_cursor is not None and best_cursor != cursor:
                commit_cursor(best_cursor)
        except NpoIntegrationError as exc:
            log.warning(
                "pull %s/%s failed after %d records: %s",
                self._config.npo_id,
                self._name,
                records,
                exc,
            )
            error = f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # a bug or unforeseen input: the run fails, the agent goes on
            log.exception("pull %s/%s failed unexpectedly", self._config.npo_id, self._name)
            error = f"unexpected {type(exc).__name__}: {exc}"
        else:
            error = None
        return PullOutcome(
            records=records,
            pages=pages,
            error=error,
            refused=refused,
            refusal=refusal,
            distinct=len(keys),
            sweep_sent=sweep_sent and error is None,
        )

    def _item(self, record: Any) -> tuple[RawItem, int]:
        """The record as a page item; ``RecordRefusedError`` when over the limits."""
        self._limits.check_depth(record)  # before hashing (recursive) meets it
        return raw_item(self._config.npo_id, self._name, self._id_of(record), record, self._limits)

    def _key_of_refused(self, record: Any) -> str:
        """The refused record's key, by its id if it has one (not hashed: it may be too deep)."""
        found = record_id(record, self._record_id_path)
        return record_key(self._config.npo_id, self._name, found or "(no id)")

    def _id_of(self, record: Any) -> str:
        """The NPO's id for the record; without one, its content hash (kept,
        but every change looks new)."""
        found = record_id(record, self._record_id_path)
        if found is None:
            log.warning(
                "%s/%s record has no id at %r; keyed by content hash",
                self._config.npo_id,
                self._name,
                self._stream.record_id_path,
            )
            return "hash-" + content_hash(record)[:32]
        return found

    async def _pages(self, cursor: str | None) -> AsyncIterator[tuple[list[Any], str | None]]:
        if self._stream.parent_stream is None:
            async for page in self._walk(self._config, self._stream, cursor=cursor):
                yield page.records, page.next_cursor_candidate
            return
        parent_config = self._config.stream(self._stream.parent_stream)
        if parent_config is None:
            raise ValueError(f"parent stream {self._stream.parent_stream} is not configured")
        async for parent_page in self._walk(self._config, parent_config, cursor=None):
            for parent in parent_page.records:
                async for page in self._walk(
                    self._config, self._stream, cursor=cursor, parent=parent
                ):
                    yield page.records, page.next_cursor_candidate
