"""One raw record -> at most one platform event, exactly once per content; failures stay for a re-drive.

Faust-free: the agent (``agents/ingest.py``) hands in the tables, the plug-in
runner, the publisher and the dead-letter sender, so the whole path is
unit-testable with fakes.

For each record:

1. stale (older than the content already held) -> nothing;
2. a pending intent (crash window) -> was the event sent? yes: processed; no: go on;
3. unchanged content already processed -> nothing;
4. the NPO's plug-in -> ``Offering``/``Progress`` or ``None`` (not one of those);
   progress finds its platform assignment through the enrolment link;
5. publish once (``delivery.once``), mark processed, drop any unprocessed entry.

Any failure in 4 is that record's: it is marked unprocessed with the reason, kept
with its payload for the re-drive (with backoff), and dead-lettered the first
time it fails this way.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from pydantic import ValidationError

from npo_integration.delivery.once import OncePublisher, Outgoing
from npo_integration.errors import NpoIntegrationError, SkippableError
from npo_integration.ingest import flags, links
from npo_integration.ingest.offerings import offering_event, offering_key
from npo_integration.ingest.progress import progress_event
from npo_integration.ingest.retry import RetryPolicy, after_failure
from npo_integration.models.codec import describe_validation_error, encode
from npo_integration.models.events import Event, Offering, Progress
from npo_integration.models.internal import EnrolmentLink, RawRecord
from npo_integration.models.state import DeliveryIntent, RecordState, UnprocessedRecord
from npo_integration.transforms.contract import TransformPlugin

log = logging.getLogger(__name__)


class NoConfigError(SkippableError):
    """A record arrived for an NPO with no config (removed, or not yet replicated)."""


class NoLinkError(SkippableError):
    """Progress for an enrolment the platform has not linked (yet): retried when the link may exist."""


class UnsupportedStreamError(SkippableError):
    """A record of a stream this worker cannot ingest."""


class InvalidEventError(SkippableError):
    """The plug-in's output does not make a valid platform event."""


class StateStore(Protocol):
    def get(self, record_key: str) -> RecordState | None: ...
    def put(self, state: RecordState) -> None: ...
    async def put_durably(self, state: RecordState) -> None: ...


class UnprocessedStore(Protocol):
    def get(self, record_key: str) -> UnprocessedRecord | None: ...
    def put(self, entry: UnprocessedRecord) -> None: ...
    def delete(self, record_key: str) -> None: ...


PluginFor = Callable[[str], TransformPlugin]
"""The NPO's plug-in; raises (``NoConfigError``, ``PluginLoadError``) when it has none."""

RunPlugin = Callable[..., Awaitable[Any]]
"""``run(fn, record, key=npo_id, output=Model)``: the isolated, time-bounded call (``PluginRunner.call``)."""

FindLink = Callable[[list[str]], EnrolmentLink | None]
"""The first link stored under one of the keys."""

DeadLetter = Callable[[RawRecord, str], Awaitable[None]]


@dataclass(frozen=True)
class OutputTopics:
    offerings: str
    assignment_updated: str


@dataclass(frozen=True)
class Outcome:
    """What happened to one record (for logs and tests)."""

    status: str  # "published", "already_published", "skipped", "unchanged", "stale", "failed"
    event_id: str | None = None
    reason: str | None = None


class Ingestor:
    def __init__(
        self,
        *,
        states: StateStore,
        unprocessed: UnprocessedStore,
        plugin_for: PluginFor,
        run_plugin: RunPlugin,
        find_link: FindLink,
        publisher: OncePublisher,
        dead_letter: DeadLetter,
        topics: OutputTopics,
        retry: RetryPolicy,
        clock: Callable[[], datetime],
    ) -> None:
        self._states = states
        self._unprocessed = unprocessed
        self._plugin_for = plugin_for
        self._run = run_plugin
        self._find_link = find_link
        self._publisher = publisher
        self._dead_letter = dead_letter
        self._topics = topics
        self._retry = retry
        self._clock = clock

    async def ingest(self, raw: RawRecord) -> Outcome:
        state = self._states.get(raw.record_key)
        if flags.is_stale(state, raw):
            log.info("record %s: stale copy (fetched %s), newer content held; ignored", raw.record_key, raw.fetched_at)
            return Outcome("stale")
        found_sent = False
        if state is not None and state.intent is not None:
            try:
                state, found_sent = await self._resolve(state, state.intent)
            except Exception as exc:  # noqa: BLE001 - unknown whether it was sent: keep the intent, retry later
                log.warning("record %s: could not check event %s: %r", raw.record_key, state.intent.event_id, exc)
                return await self._fail(state, raw, exc)
        if not flags.needs_processing(state, raw):
            self._forget_unprocessed(raw.record_key)
            return Outcome("already_published" if found_sent else "unchanged")
        try:
            out = await self._transform(raw, state)
        except NpoIntegrationError as exc:
            return await self._fail(state, raw, exc)
        except Exception as exc:  # noqa: BLE001 - a bug on one record must not stop the stream
            log.exception("record %s: unexpected error while transforming", raw.record_key)
            return await self._fail(state, raw, exc)
        if out is not None:
            written: list[RecordState] = []

            async def record_intent(intent: DeliveryIntent) -> None:
                with_intent = flags.with_intent(state, raw, intent, self._clock())
                await self._states.put_durably(with_intent)
                written.append(with_intent)

            try:
                await self._publisher.publish(out, record_intent)
            except Exception as exc:  # noqa: BLE001 - unknown outcome: the intent stays, checked on the retry
                log.warning("record %s: publishing %s failed: %r", raw.record_key, out.event_id, exc)
                return await self._fail(written[-1] if written else state, raw, exc)
        self._states.put(flags.processed(state, raw, self._clock()))
        self._forget_unprocessed(raw.record_key)
        if out is None:
            return Outcome("skipped")
        return Outcome("published", event_id=out.event_id)

    async def _resolve(self, state: RecordState, intent: DeliveryIntent) -> tuple[RecordState, bool]:
        """The crash window: the intent is durable, the processed flag may not be. Was the event sent?"""
        if await self._publisher.was_delivered(intent):
            log.info(
                "record %s: crash window, event %s (%s) already on %s[%d]; not published again",
                state.record_key, intent.event_id, intent.event_type, intent.topic, intent.partition,
            )
            resolved = flags.delivered(state, intent, self._clock())
            self._states.put(resolved)
            return resolved, True
        log.info("record %s: crash window, event %s was not sent; processing again", state.record_key, intent.event_id)
        return flags.without_intent(state), False

    def _forget_unprocessed(self, record_key: str) -> None:
        if self._unprocessed.get(record_key) is not None:
            self._unprocessed.delete(record_key)

    async def _transform(self, raw: RawRecord, state: RecordState | None) -> Outgoing | None:
        plugin = self._plugin_for(raw.npo_id)
        if raw.stream == "offerings":
            offering: Offering | None = await self._run(plugin.offering, raw.payload, key=raw.npo_id, output=Offering)
            if offering is None:
                log.debug("record %s is not an offering; skipped", raw.record_key)
                return None
            offering_out = _built(lambda: offering_event(raw, offering, state))
            return _outgoing(raw, offering_out, self._topics.offerings, offering_key(raw.npo_id, offering))
        if raw.stream == "assignments":
            progress: Progress | None = await self._run(plugin.progress, raw.payload, key=raw.npo_id, output=Progress)
            if progress is None:
                log.debug("record %s is not progress; skipped", raw.record_key)
                return None
            link = self._find_link(links.lookup_keys(raw.npo_id, progress))
            if link is None:
                raise NoLinkError(f"no enrolment link for {links.describe(progress)}")
            if link.event_type == "enrolment.unlinked":
                log.info("record %s: enrolment of assignment %s was cancelled; skipped", raw.record_key, link.assignment_id)
                return None
            progress_out = _built(lambda: progress_event(raw, progress, link))
            return _outgoing(raw, progress_out, self._topics.assignment_updated, progress_out.assignment_id)
        raise UnsupportedStreamError(f"stream {raw.stream!r} is not ingested")

    async def _fail(self, state: RecordState | None, raw: RawRecord, exc: Exception) -> Outcome:
        reason = f"{type(exc).__name__}: {exc}"
        now = self._clock()
        new_failure = flags.is_new_failure(state, raw, reason)
        failed = flags.failed(state, raw, reason, now)
        self._unprocessed.put(
            after_failure(self._unprocessed.get(raw.record_key), raw, reason, failed.attempts, now, self._retry)
        )
        self._states.put(failed)
        if new_failure:
            await self._dead_letter(raw, reason)
        else:
            log.info("record %s failed again (attempt %d): %s", raw.record_key, failed.attempts, reason)
        return Outcome("failed", reason=reason)


def _built(build: Callable[[], Any]) -> Any:
    try:
        return build()
    except ValidationError as exc:
        raise InvalidEventError(f"invalid platform event: {describe_validation_error(exc)}") from None


def _outgoing(raw: RawRecord, event: Event, topic: str, key: str) -> Outgoing:
    return Outgoing(
        event_id=event.event_id,
        event_type=event.event_type,
        content_hash=raw.content_hash,
        topic=topic,
        key=key,
        value=encode(event),
    )
