"""Values of the partitioned tables: per-NPO pull bookkeeping and per-record processed flags."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from pydantic_core import to_json

from npo_integration.models.codec import Versioned, validated
from npo_integration.models.internal import RawRecord
from npo_integration.models.npo_config import StreamName


class StreamPullState(BaseModel):
    """One NPO stream's schedule and cursor. Persisted so a restart
    neither skips nor doubles a run."""

    model_config = ConfigDict(frozen=True)

    next_run_at: AwareDatetime | None = None
    running_since: AwareDatetime | None = None
    running_trace_id: str | None = None
    running_worker: str | None = Field(
        None, description="the worker process running it (a crashed one's run is stale)"
    )
    last_success_at: AwareDatetime | None = None
    last_error: str | None = None
    last_error_at: AwareDatetime | None = None
    consecutive_failures: int = 0
    cursor: str | None = None
    records_last_run: int = 0
    runs_since_full_sweep: int = Field(
        0, ge=0, description="incremental runs since the last complete full sweep"
    )
    full_refresh_pending: bool | None = Field(
        None,
        description="a full refresh asked while a run was under way: the next run forgets the"
        " cursor (raw records expired unread, agents/raw_expiry.py)",
    )


class PullState(Versioned):
    model_config = ConfigDict(frozen=True)

    npo_id: str
    streams: dict[StreamName, StreamPullState] = Field(default_factory=dict)

    def stream(self, name: StreamName) -> StreamPullState:
        return self.streams.get(name, StreamPullState())

    def with_stream(self, name: StreamName, state: StreamPullState) -> PullState:
        return self.model_copy(update={"streams": {**self.streams, name: state}})


class DeliveryIntent(BaseModel):
    """An event about to be published for a record, written (durably) before the send.

    If the worker dies between the send and the processed flag, the next one to
    see the record reads ``topic``/``partition`` from ``offset`` for ``event_id``
    instead of publishing blindly (``npo_integration.delivery.once``).
    """

    model_config = ConfigDict(frozen=True)

    event_id: str
    event_type: str
    content_hash: str = Field(description="the record content the event is made from")
    topic: str
    partition: int = Field(ge=0)
    offset: int = Field(ge=0, description="end offset of the partition read just before the send")
    at: AwareDatetime
    change: int = Field(
        0,
        ge=0,
        description=(
            "which change of the record the event is (RecordState.changes once it is sent);"
            " 0 in intents written before changes were numbered"
        ),
    )
    re_emit: str | None = Field(
        None, description="the re-emit (its trace id) the event answers, if it is one"
    )


class IntentValues(TypedDict):
    """A ``DeliveryIntent``'s values, its fields in its order: what the publishing path makes for
    each event (``delivery.once``) and writes as JSON in a ``PendingBatch`` (``trusted_json``).
    A validated model each cost about 3 µs of a published record's 70; one is made only where it
    is kept, in the state of a record whose send failed (:func:`intent_of`)."""

    event_id: str
    event_type: str
    content_hash: str
    topic: str
    partition: int
    offset: int
    at: datetime
    change: int
    re_emit: str | None


def intent_of(values: IntentValues) -> DeliveryIntent:
    """The validated intent of these values."""
    return validated(DeliveryIntent, values)


class RecordState(Versioned):
    """The integration store's processed flag for one NPO record."""

    model_config = ConfigDict(frozen=True)

    record_key: str
    npo_id: str
    stream: StreamName
    content_hash: str
    processed: bool = False
    processed_hash: str | None = Field(
        None, description="hash of the content last turned into an event"
    )
    attempts: int = 0
    last_error: str | None = None
    first_seen_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None
    fetched_at: AwareDatetime | None = Field(
        None,
        description=(
            "when the content in content_hash was fetched: an older fetch of other content is stale"
        ),
    )
    intent: DeliveryIntent | None = Field(
        None, description="an event being published, until processed"
    )
    changes: int = Field(
        0,
        ge=0,
        description=(
            "the number of the last change that became an event: the next one is changes + 1,"
            " part of its event id (0 for states stored before changes were numbered)"
        ),
    )
    published_key: str | None = Field(
        None,
        description=(
            "the key of the record's last platform event (offering key or assignment id):"
            " what a removal event is keyed by; None when no event was published"
        ),
    )
    removed_at: AwareDatetime | None = Field(
        None,
        description="when its removal event was published; None while it is live on the platform",
    )
    re_emitted: str | None = Field(
        None,
        description=(
            "the last re-emit (its trace id) the record was processed for: another copy of that"
            " re-emit's record is unchanged, a later re-emit makes a new event"
        ),
    )

    @property
    def live(self) -> bool:
        """Published on the platform and not removed since: a removal candidate."""
        return self.published_key is not None and self.removed_at is None


_UNPUBLISHED = b'"published_key":null'
_NOT_REMOVED = b'"removed_at":null'


def live_in_bytes(raw: bytes) -> bool | None:
    """``RecordState.live`` of a stored state, read from its JSON where it says it plainly (the
    two fields it reads, as ``encode`` writes them), else ``None``: decode it."""
    if _UNPUBLISHED in raw:
        return False
    return True if _NOT_REMOVED in raw else None


class UnprocessedRecord(Versioned):
    """A record that could not become an event yet, with what the re-drive needs:
    the original and when to retry.

    Kept apart from ``RecordState`` so the re-drive timer reads only what is
    pending, and the payload is held only while it is needed.
    """

    model_config = ConfigDict(frozen=True)

    raw: RawRecord
    reason: str
    attempts: int = Field(ge=1)
    first_failed_at: AwareDatetime
    last_failed_at: AwareDatetime
    next_attempt_at: AwareDatetime


class KeptPayload(BaseModel):
    """The last content of an offering record the ingestion processed, as the NPO sent it: what
    a mapping change is replayed over (``registry/replay.py``). Offering records only: they hold
    no candidate data, so this store needs no erasure (docs/plugins.md, "Replaying a mapping
    change")."""

    model_config = ConfigDict(frozen=True)

    content_hash: str
    fetched_at: AwareDatetime
    payload: Any


def kept_bytes(content_hash: str, fetched_at: datetime, payload: Any) -> bytes:
    """``encode`` of a ``KeptPayload`` of these values, written directly: on the hot path of
    changed records, where pydantic's serialisation of the model costs ten times as much (its
    values come from a validated raw record)."""
    return b"".join(
        (
            b'{"content_hash":',
            to_json(content_hash),
            b',"fetched_at":',
            to_json(fetched_at),
            b',"payload":',
            to_json(payload),
            b"}",
        )
    )


class PendingDelivery(BaseModel):
    """One record's event in a batch being published: what the
    crash-window check needs to settle it."""

    model_config = ConfigDict(frozen=True)

    record_key: str
    npo_id: str
    stream: StreamName
    fetched_at: AwareDatetime
    intent: DeliveryIntent


class PendingBatch(Versioned):
    """The intents of one batch of a raw-records partition, written
    durably before its events are sent.

    Kept per source partition until the next batch replaces it. A worker that finds
    one it did not finish itself (after a crash or a rebalance) checks which of its
    events are on their topics before it processes that partition's records
    (``ingest.ingestor``).
    """

    model_config = ConfigDict(frozen=True)

    batch_id: str
    source_partition: int = Field(ge=0)
    items: list[PendingDelivery]


class RemovalHold(Versioned):
    """A sweep that would have removed too many of an NPO stream's published records at once:
    nothing was removed. An operator confirms it (the next complete sweep's removals go out,
    whatever their share) or rejects it (dropped; a sweep as bad is held again); a later sweep
    that does not remove too many clears it.

    Confirming applies to the next sweep rather than to the held one's keys: the hold stays a
    small value whatever the NPO's size, and what is removed is what the NPO says then."""

    model_config = ConfigDict(frozen=True)

    npo_id: str
    stream: StreamName
    trace_id: str = Field(description="the sweep that was held")
    held_at: AwareDatetime
    published: int = Field(ge=0, description="records live on the platform before the sweep")
    seen: int = Field(ge=0, description="records the sweep returned")
    would_remove: int = Field(ge=0)
    confirmed_at: AwareDatetime | None = Field(
        None, description="an operator confirmed: the next complete sweep removes what it lacks"
    )
    confirmed_by: str | None = None
