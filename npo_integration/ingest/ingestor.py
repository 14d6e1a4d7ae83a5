"""Raw records -> at most one platform event each, exactly once per
change of content (each change its own event id, ``ingest.identity``); failures
stay for a re-drive.

Faust-free: the agent (``agents/ingest.py``) hands in the tables, the plug-in
runner, the publisher and the dead-letter sender, so the whole path is
unit-testable with fakes.

Records come in batches of one raw-records partition. For a batch:

0. a batch left unfinished on this partition (a crash, a rebalance) is settled
   first: its events found on their topics make their records processed;
1. per record: stale (older than the content already held) -> nothing; an intent
   of a failed send -> was the event sent? (one scan per output partition for the
   whole batch); unchanged content already processed -> nothing, and no broker
   round trip at all;
2. the NPOs' plug-ins over every record that needs one, in one hand-over to the
   plug-in pool -> ``Offering``/``Progress`` or ``None``; progress finds its
   platform assignment through the enrolment link;
3. publish once (``delivery.once``): the batch's intents durably, every event
   pipelined, one wait for every acknowledgement;
4. mark processed, drop unprocessed entries.

A record that appears twice in a batch is processed in order: its second copy
waits for a later round of the same batch. Any failure in 2 is that record's: it
is marked unprocessed with the reason, kept with its payload for the re-drive
(with backoff), and dead-lettered the first time it fails this way.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, NamedTuple, Protocol

from pydantic import ValidationError

from npo_integration import tracing
from npo_integration.delivery.once import OncePublisher, Outgoing
from npo_integration.errors import NpoIntegrationError, SkippableError
from npo_integration.ingest import links, processed_flag
from npo_integration.ingest.offerings import offering_event, offering_key, offering_removed
from npo_integration.ingest.progress import progress_event, progress_withdrawn
from npo_integration.ingest.removals import is_removal
from npo_integration.ingest.retry import after_failure
from npo_integration.models.codec import encode, trusted_json
from npo_integration.models.events import Event, Offering, Progress
from npo_integration.models.internal import EnrolmentLink, RawRecord
from npo_integration.models.npo_config import LEGACY_STREAM_KINDS, StreamKind
from npo_integration.models.state import (
    IntentValues,
    PendingBatch,
    RecordState,
    UnprocessedRecord,
    intent_of,
)
from npo_integration.retry_policy import RetryPolicy
from npo_integration.transforms.contract import TransformError, TransformPlugin
from npo_integration.transforms.invoke import PluginCall, plugin_call
from npo_integration.validation_errors import describe_validation_error

log = logging.getLogger(__name__)

Spans = Callable[[str], tracing.KafkaHeaders]
"""A round's trace headers by ``trace_id`` (``tracing.headers_for``, once per trace)."""


ROUND_SIZE = 4000
"""Records published together at most: one durable write and one wait for all of them."""
ROUND_PER_PARTITION = 1000
"""Records of one partition in a round at most: their intents are one
table value (about 0.4 KB each)."""


class NoConfigError(SkippableError):
    """A record arrived for an NPO with no config (removed, or not yet replicated)."""


class NoLinkError(SkippableError):
    """Progress for an enrolment the platform has not linked (yet):
    retried when the link may exist."""


class UnsupportedStreamError(SkippableError):
    """A record of a stream this worker cannot ingest."""


class InvalidEventError(SkippableError):
    """The plug-in's output does not make a valid platform event."""


class StateStore(Protocol):
    def get(self, record_key: str) -> RecordState | None: ...
    def put(self, state: RecordState) -> None: ...
    def put_all_encoded(self, states: Sequence[tuple[str, bytes]]) -> None:
        """States already encoded (``processed_flag.processed_json``) by record key, written
        together (records of one partition)."""

    def flush(self) -> None:
        """Hand the writes so far to the broker (without waiting)."""

    async def wait_acked(self) -> None:
        """Return once every write so far is durable."""


class UnprocessedStore(Protocol):
    def get(self, record_key: str) -> UnprocessedRecord | None: ...
    def put(self, entry: UnprocessedRecord) -> None: ...
    def delete(self, record_key: str) -> None: ...


class PayloadStore(Protocol):
    """The last processed content of offering records (``tables.record_state.RecordPayloads``)."""

    def put_all(self, records: Sequence[RawRecord]) -> None:
        """Keep the content of each, written together (records of one partition)."""

    def delete(self, record_key: str) -> None: ...

    def flush(self) -> None:
        """Send the writes so far (after a batch)."""


class ShapeObserver(Protocol):
    def observe(self, records: Sequence[RawRecord], now: datetime) -> None:
        """Changed records of a batch (``ingest.drift.ShapeWatch``)."""


class PendingStore(Protocol):
    def unfinished(self, partition: int, finished_batch_id: str | None) -> PendingBatch | None:
        """The partition's pending batch, unless it is ``finished_batch_id``
        (this process finished it)."""

    def put_encoded(self, partition: int, batch_id: str, value: bytes) -> None:
        """An encoded ``PendingBatch`` of the partition (``trusted_json``)."""

    async def wait_acked(self) -> None: ...


PluginFor = Callable[[str, str], TransformPlugin]
"""The plug-in of an NPO's stream (``npo_id``, stream key): its source's; raises
(``NoConfigError``, ``PluginLoadError``) when it has none."""
KindOf = Callable[[str, str], StreamKind]
"""What an NPO stream's records become (``npo_id``, stream key); raises if not configured."""


def legacy_kind(npo_id: str, stream: str) -> StreamKind:
    """The kind of the streams every NPO had before sources (``offerings``, ``assignments``)."""
    kind = LEGACY_STREAM_KINDS.get(stream)
    if kind is None:
        raise UnsupportedStreamError(f"stream {stream!r} is not ingested")
    return kind


RunPlugins = Callable[[Sequence[PluginCall]], Awaitable[list[Any]]]
"""Every call, isolated and time-bounded, in order: its result or its
``TransformError`` (``PluginRunner.map``)."""

FindLink = Callable[[list[str]], EnrolmentLink | None]
"""The first link stored under one of the keys."""

DeadLetter = Callable[[RawRecord, str], Awaitable[None]]


@dataclass(frozen=True)
class OutputTopics:
    offerings: str
    assignment_updated: str


class Outcome(NamedTuple):
    """What happened to one record (for logs, metrics and tests; a named tuple: one is made per
    record)."""

    status: str  # "published", "already_published", "skipped", "unchanged", "stale", "failed"
    event_id: str | None = None
    reason: str | None = None


Scope = Callable[[], AbstractContextManager[None]]
"""Entered around every table read and write of one source partition
(Faust: that partition's event)."""


@dataclass(frozen=True)
class SourcePartition:
    """Records of one raw-records partition, in offset order, and how to
    reach that partition's tables."""

    partition: int
    records: Sequence[RawRecord]
    scope: Scope = nullcontext


@dataclass(eq=False)
class _Work:
    """One record in a round: where it comes from, its state before, and
    what the round makes of it."""

    part: SourcePartition
    index: int
    raw: RawRecord
    state: RecordState | None = None
    out: Outgoing | None = None
    error: BaseException | None = None
    removal: bool = False  # ``out`` is the record's removal
    keep: bool = False  # an offering record: its content is kept for replays


def _by_part(items: Sequence[_Work]) -> list[tuple[SourcePartition, list[_Work]]]:
    groups: dict[int, tuple[SourcePartition, list[_Work]]] = {}
    for item in items:
        groups.setdefault(item.part.partition, (item.part, []))[1].append(item)
    return list(groups.values())


class Ingestor:
    def __init__(
        self,
        *,
        states: StateStore,
        unprocessed: UnprocessedStore,
        pending: PendingStore,
        plugin_for: PluginFor,
        run_plugins: RunPlugins,
        find_link: FindLink,
        publisher: OncePublisher,
        dead_letter: DeadLetter,
        topics: OutputTopics,
        retry: RetryPolicy,
        clock: Callable[[], datetime],
        kind_of: KindOf = legacy_kind,
        payloads: PayloadStore | None = None,
        shapes: ShapeObserver | None = None,
    ) -> None:
        self._kind_of = kind_of
        self._payloads = payloads
        self._shapes = shapes
        self._states = states
        self._unprocessed = unprocessed
        self._pending = pending
        self._plugin_for = plugin_for
        self._run_plugins = run_plugins
        self._find_link = find_link
        self._publisher = publisher
        self._dead_letter = dead_letter
        self._topics = topics
        self._retry = retry
        self._clock = clock
        self._finished: dict[
            int, str
        ] = {}  # partition -> id of the last batch this process finished there

    async def ingest(self, parts: Sequence[SourcePartition]) -> list[list[Outcome]]:
        """Ingest the records of each part; per part, an outcome per record in order."""
        outcomes: dict[int, list[Outcome | None]] = {
            part.partition: [None] * len(part.records) for part in parts
        }
        letters: list[tuple[RawRecord, str]] = []
        ready: list[SourcePartition] = []
        settled: dict[str, str] = {}  # record key -> event id found sent by a crashed batch
        for part in parts:
            with part.scope():
                try:
                    settled.update(await self._settle(part.partition))
                except Exception as exc:
                    log.warning(
                        "partition %d: could not check the last batch's events: %r",
                        part.partition,
                        exc,
                    )
                    for index, raw in enumerate(part.records):
                        state = self._states.get(raw.record_key)
                        outcomes[part.partition][index] = self._fail(state, raw, exc, letters)
                    continue
            ready.append(part)
        for round_ in _rounds(ready, ROUND_SIZE, ROUND_PER_PARTITION):
            await self._round(round_, outcomes, letters, settled)
        self._states.flush()
        await self._send_letters(letters)
        return [
            [
                o if o is not None else Outcome("failed", reason="not processed")
                for o in outcomes[part.partition]
            ]
            for part in parts
        ]

    # --- a round: each record key at most once per partition -----------------------------------

    async def _round(
        self,
        round_: list[_Work],
        outcomes: dict[int, list[Outcome | None]],
        letters: list[tuple[RawRecord, str]],
        settled: dict[str, str],
    ) -> None:
        work: list[_Work] = []
        for part, items in _by_part(round_):
            with part.scope():
                for item in items:
                    item.state = self._states.get(item.raw.record_key)
                    if processed_flag.is_stale(item.state, item.raw):
                        log.info(
                            "record %s: stale copy (fetched %s), newer content held; ignored",
                            item.raw.record_key,
                            item.raw.fetched_at,
                        )
                        outcomes[part.partition][item.index] = Outcome("stale")
                    else:
                        work.append(item)
        await self._resolve_intents(work, outcomes, letters)
        todo: list[_Work] = []
        for part, items in _by_part(work):
            with part.scope():
                for item in items:
                    if outcomes[part.partition][item.index] is not None:
                        continue
                    if processed_flag.needs_processing(item.state, item.raw):
                        todo.append(item)
                        continue
                    self._forget_unprocessed(item.raw.record_key, item.state)
                    sent = settled.pop(item.raw.record_key, None)
                    outcomes[part.partition][item.index] = (
                        Outcome("already_published", event_id=sent)
                        if sent
                        else Outcome("unchanged")
                    )
        if not todo:
            return
        await self._transform(todo)
        publish = [item for item in todo if item.error is None and item.out is not None]
        if publish:
            await self._publish(publish)
        now = self._clock()
        for part, items in _by_part(todo):
            with part.scope():
                # Written together at the end: nothing reads these states back before (a round
                # holds each record key once per partition).
                processed: list[tuple[str, bytes]] = []
                for item in items:
                    if item.error is not None:
                        outcomes[part.partition][item.index] = self._fail(
                            item.state, item.raw, item.error, letters
                        )
                        continue
                    out = item.out
                    state = processed_flag.processed_json(
                        item.state,
                        item.raw,
                        now,
                        out.change if out is not None else None,
                        key=out.key if out is not None else None,
                        removal=item.removal,
                    )
                    processed.append((item.raw.record_key, state))
                    outcomes[part.partition][item.index] = (
                        Outcome("published", event_id=item.out.event_id)
                        if item.out is not None
                        else Outcome("skipped")
                    )
                self._keep(items)
                self._states.put_all_encoded(processed)
                for item in items:
                    if item.error is None:
                        self._forget_unprocessed(item.raw.record_key, item.state)
        self._states.flush()  # on their way while the next round is transformed
        if self._payloads is not None:
            self._payloads.flush()

    def _keep(self, items: list[_Work]) -> None:
        """Keep offering records' content (failed or filtered out too: a replay shows what
        newly passes or is newly included), forget absent ones'. Call in the records'
        partition scope."""
        if self._payloads is None:
            return
        self._payloads.put_all([item.raw for item in items if item.keep])
        for item in items:
            if item.removal and not item.keep:  # gone from the NPO (no plug-in was asked)
                self._payloads.delete(item.raw.record_key)

    async def _resolve_intents(
        self,
        work: list[_Work],
        outcomes: dict[int, list[Outcome | None]],
        letters: list[tuple[RawRecord, str]],
    ) -> None:
        """Records whose last send failed carry its intent: was that event sent after all?"""
        held = [item for item in work if item.state is not None and item.state.intent is not None]
        if not held:
            return
        intents = [
            item.state.intent
            for item in held
            if item.state is not None and item.state.intent is not None
        ]
        try:
            found = await self._publisher.delivered(intents)
        except Exception as exc:
            log.warning("could not check the last event of %d record(s): %r", len(held), exc)
            for part, items in _by_part(held):
                with part.scope():
                    for item in items:
                        outcomes[part.partition][item.index] = self._fail(
                            item.state, item.raw, exc, letters
                        )
            return
        now = self._clock()
        for part, items in _by_part(held):
            with part.scope():
                for item in items:
                    assert item.state is not None and item.state.intent is not None
                    intent = item.state.intent
                    if intent.event_id not in found:
                        log.info(
                            "record %s: event %s was not sent; processing again",
                            item.raw.record_key,
                            intent.event_id,
                        )
                        item.state = processed_flag.without_intent(item.state)
                        continue
                    log.info(
                        "record %s: event %s (%s) already on %s[%d]; not published again",
                        item.raw.record_key,
                        intent.event_id,
                        intent.event_type,
                        intent.topic,
                        intent.partition,
                    )
                    before, item.state = (
                        item.state,
                        processed_flag.delivered(item.state, intent, now),
                    )
                    self._states.put(item.state)
                    if not processed_flag.needs_processing(item.state, item.raw):
                        self._forget_unprocessed(item.raw.record_key, before)
                        outcomes[part.partition][item.index] = Outcome(
                            "already_published", event_id=intent.event_id
                        )

    # --- the crash window of a whole batch -----------------------------------------------------

    async def _settle(self, partition: int) -> dict[str, str]:
        """A batch of this partition that this process did not finish (the crash window): mark what
        it sent as processed; returns those records' keys and event ids.

        Its records whose events are not found are delivered again (their offsets were
        not committed) and processed as new. Call in the partition's scope.
        """
        pending = self._pending.unfinished(partition, self._finished.get(partition))
        if pending is None:
            return {}
        found = await self._publisher.delivered([item.intent for item in pending.items])
        now = self._clock()
        settled: dict[str, str] = {}
        for item in pending.items:
            if item.intent.event_id not in found:
                continue
            settled[item.record_key] = item.intent.event_id
            state = self._states.get(item.record_key)
            if (
                state is not None
                and state.processed
                and state.processed_hash == item.intent.content_hash
                and state.changes >= item.intent.change
            ):
                continue
            self._states.put(processed_flag.delivered_pending(state, item, now))
            self._forget_unprocessed(item.record_key, state)
        log.info(
            "crash window: unfinished batch %s of partition %d: "
            "%d of %d event(s) had been sent; not published again",
            pending.batch_id,
            partition,
            len(settled),
            len(pending.items),
        )
        self._finished[partition] = pending.batch_id
        return settled

    async def _publish(self, items: list[_Work]) -> None:
        """Publish the round's events once (``delivery.once``); a failed
        one sets its record's error."""
        batch_id = uuid.uuid4().hex
        recorded: list[IntentValues] = []

        async def record_intents(intents: list[IntentValues]) -> None:
            # The states of the batch before must be durable before its intents are replaced.
            await self._states.wait_acked()
            by_item = dict(zip(map(id, items), intents, strict=True))
            for part, group in _by_part(items):
                with part.scope():
                    # Only written, so written as JSON without the models (``trusted_json``); the
                    # items' keys are PendingDelivery's fields, in its order.
                    batch = trusted_json(
                        PendingBatch,
                        {
                            "batch_id": batch_id,
                            "source_partition": part.partition,
                            "items": [
                                {
                                    "record_key": item.raw.record_key,
                                    "npo_id": item.raw.npo_id,
                                    "stream": item.raw.stream,
                                    "fetched_at": item.raw.fetched_at,
                                    "intent": by_item[id(item)],
                                }
                                for item in group
                            ],
                        },
                    )
                    self._pending.put_encoded(part.partition, batch_id, batch)
            await self._pending.wait_acked()
            recorded.extend(intents)

        outgoing = [item.out for item in items if item.out is not None]
        try:
            errors = await self._publisher.publish(outgoing, record_intents)
        except Exception as exc:
            errors = [exc] * len(items)
        for part, _ in _by_part(items):
            self._finished[part.partition] = batch_id
        failed = 0
        for position, (item, error) in enumerate(zip(items, errors, strict=True)):
            if error is None:
                continue
            failed += 1
            item.error = error
            if recorded:  # its outcome is unknown: the retry checks this intent first
                intent = intent_of(recorded[position])
                item.state = processed_flag.with_intent(item.state, item.raw, intent, intent.at)
        if failed:
            first = next(item for item in items if item.error is not None)
            log.warning(
                "%d of %d event(s) not acknowledged (first: record %s: %r); kept for a re-drive",
                failed,
                len(items),
                first.raw.record_key,
                first.error,
            )

    # --- transforming --------------------------------------------------------------------------

    async def _transform(self, todo: list[_Work]) -> None:
        calls: list[PluginCall] = []
        called: list[_Work] = []
        # One span per trace in a round, the parent of its events (a page's records share their
        # pull's trace): a span per event cost a few percent of ingesting a changed record.
        spans: Spans = functools.cache(tracing.headers_for)
        plugins: dict[tuple[str, str], TransformPlugin] = {}
        for item in todo:
            try:
                if is_removal(item.raw):  # an absence: no plug-in to ask
                    item.removal = True
                    item.out = self._removal(item.raw, item.state, "absent", spans)
                    continue
                stream = (item.raw.npo_id, item.raw.stream)
                plugin = plugins.get(stream) or plugins.setdefault(
                    stream, self._plugin_for(*stream)
                )
                kind = self._kind_of(*stream)
                calls.append(_plugin_call(plugin, item.raw, kind))
                item.keep = kind == "offerings"
                called.append(item)
            except Exception as exc:
                item.error = exc
        if self._shapes is not None and called:
            self._shapes.observe([item.raw for item in called], self._clock())
        results = await self._run_plugins(calls) if calls else []
        for item, result in zip(called, results, strict=True):
            if isinstance(result, Exception):
                item.error = result
                continue
            try:
                if result is None and item.state is not None and item.state.live:
                    item.removal = True  # returned, but the mapping now leaves it out
                    item.out = self._removal(item.raw, item.state, "filtered", spans)
                else:
                    item.out = self._event(item.raw, item.state, result, spans)
            except NpoIntegrationError as exc:
                item.error = exc
            except Exception as exc:
                log.exception("record %s: unexpected error while transforming", item.raw.record_key)
                item.error = exc

    def _event(
        self, raw: RawRecord, state: RecordState | None, result: Any, spans: Spans
    ) -> Outgoing | None:
        if result is None:
            log.debug("record %s is not a platform record; skipped", raw.record_key)
            return None
        change = processed_flag.next_change(state)
        if isinstance(result, Offering):
            offering_out = _built(lambda: offering_event(raw, result, state, change))
            key = offering_key(raw.npo_id, result)
            return _outgoing(raw, offering_out, change, self._topics.offerings, key, spans)
        if isinstance(result, Progress):
            link = self._find_link(links.lookup_keys(raw.npo_id, result))
            if link is None:
                raise NoLinkError(f"no enrolment link for {links.describe(result)}")
            if link.event_type == "enrolment.unlinked":
                log.info(
                    "record %s: enrolment of assignment %s was cancelled; skipped",
                    raw.record_key,
                    link.assignment_id,
                )
                return None
            progress_out = _built(lambda: progress_event(raw, result, link, change))
            return _outgoing(
                raw,
                progress_out,
                change,
                self._topics.assignment_updated,
                progress_out.assignment_id,
                spans,
            )
        raise UnsupportedStreamError(f"stream {raw.stream!r} is not ingested")  # pragma: no cover

    def _removal(
        self,
        raw: RawRecord,
        state: RecordState | None,
        reason: Literal["absent", "filtered"],
        spans: Spans,
    ) -> Outgoing | None:
        """The removal event of a live record (``None`` if it is not live: removed already)."""
        if state is None or not state.live or state.published_key is None:
            return None
        change = processed_flag.next_change(state)
        event: Event
        if self._kind_of(raw.npo_id, raw.stream) == "offerings":
            event = offering_removed(raw, state, change, reason)
            topic = self._topics.offerings
        else:
            event = progress_withdrawn(raw, state, change)
            topic = self._topics.assignment_updated
        return _outgoing(raw, event, change, topic, state.published_key, spans)

    # --- failures ------------------------------------------------------------------------------

    def _fail(
        self,
        state: RecordState | None,
        raw: RawRecord,
        exc: BaseException,
        letters: list[tuple[RawRecord, str]],
    ) -> Outcome:
        reason = f"{type(exc).__name__}: {exc}"
        now = self._clock()
        new_failure = processed_flag.is_new_failure(state, raw, reason)
        failed = processed_flag.failed(state, raw, reason, now)
        self._unprocessed.put(
            after_failure(
                self._unprocessed.get(raw.record_key),
                raw,
                reason,
                failed.attempts,
                now,
                self._retry,
            )
        )
        self._states.put(failed)
        if new_failure:
            letters.append((raw, reason))
        else:
            log.info(
                "record %s failed again (attempt %d): %s", raw.record_key, failed.attempts, reason
            )
        return Outcome("failed", reason=reason)

    async def _send_letters(self, letters: list[tuple[RawRecord, str]]) -> None:
        if letters:
            await asyncio.gather(*(self._dead_letter(raw, reason) for raw, reason in letters))

    def _forget_unprocessed(self, record_key: str, before: RecordState | None) -> None:
        """Drop the record's unprocessed entry. Only a record whose state (``before`` this change)
        says it failed, or holds an intent of a failed send, can have
        one: others cost no look-up."""
        if before is None or (before.last_error is None and before.intent is None):
            return
        if self._unprocessed.get(record_key) is not None:
            self._unprocessed.delete(record_key)


def _rounds(
    parts: Sequence[SourcePartition], max_records: int, max_per_partition: int
) -> list[list[_Work]]:
    """The records in rounds where each record key appears at most once per round, a key's copies in
    offset order. A round holds at most ``max_records``, and ``max_per_partition`` of one partition
    (a partition's intents are one table value, which must stay well
    under a Kafka message's limit)."""
    rounds: list[list[_Work]] = []
    for part in parts:
        seen: dict[str, int] = {}  # record key -> the round its last copy is in
        counts: list[int] = []  # records of this part per round
        for index, raw in enumerate(part.records):
            round_ = seen.get(raw.record_key, -1) + 1
            while round_ < len(rounds) and (
                len(rounds[round_]) >= max_records
                or (round_ < len(counts) and counts[round_] >= max_per_partition)
            ):
                round_ += 1
            seen[raw.record_key] = round_
            if round_ == len(rounds):
                rounds.append([])
            while len(counts) <= round_:
                counts.append(0)
            counts[round_] += 1
            rounds[round_].append(_Work(part, index, raw))
    return rounds


METHOD_OF_KIND = {"offerings": "offering", "progress": "progress"}
"""The plug-in method that turns a record of a stream of the kind into a platform model."""


def _plugin_call(plugin: TransformPlugin, raw: RawRecord, kind: StreamKind) -> PluginCall:
    return plugin_call(plugin, METHOD_OF_KIND[kind], raw.payload, key=raw.npo_id)


def _built(build: Callable[[], Any]) -> Any:
    try:
        return build()
    except ValidationError as exc:
        raise InvalidEventError(
            f"invalid platform event: {describe_validation_error(exc)}"
        ) from None


def _outgoing(
    raw: RawRecord, event: Event, change: int, topic: str, key: str, spans: Spans
) -> Outgoing:
    return Outgoing(
        event_id=event.event_id,
        event_type=event.event_type,
        content_hash=raw.content_hash,
        change=change,
        topic=topic,
        key=key,
        value=encode(event),
        re_emit=raw.trace_id if raw.re_emit else None,
        headers=spans(raw.trace_id),
    )


__all__ = [
    "METHOD_OF_KIND",
    "Ingestor",
    "NoConfigError",
    "NoLinkError",
    "Outcome",
    "OutputTopics",
    "SourcePartition",
    "TransformError",
]
