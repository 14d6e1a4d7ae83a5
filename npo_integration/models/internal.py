"""Messages on the service's own topics (not part of the platform's contract)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from npo_integration.models.codec import Versioned, encode, validated
from npo_integration.models.events import Event, NpoId, utc_now
from npo_integration.models.npo_config import ConfigSource, NpoIntegrationConfig, StreamName


class ConfigCommand(Event, Versioned):
    """``npo-integration.config-commands``, key npo_id. Secrets inside are sealed.

    Only an upsert carries a config; the others change the stored one (``registry.versioning``).
    """

    event_type: Literal[
        "npo_config.upsert",
        "npo_config.deactivate",
        "npo_config.reseal",
        "npo_config.pause",
        "npo_config.resume",
        "npo_config.erase",
    ]
    npo_id: NpoId
    source: ConfigSource
    config: NpoIntegrationConfig | None = None
    _encoded: bytes | None = PrivateAttr(default=None)

    def encoded(self) -> bytes:
        """The command as sent, encoded once: the submitter measures it before it is sent
        (a command is not changed after it is made)."""
        private = self.__pydantic_private__  # through its dict: cheaper than the attribute
        encoded = private.get("_encoded") if private is not None else None
        if encoded is None:
            encoded = encode(self)
            if private is not None:
                private["_encoded"] = encoded
        return encoded


class FetchRequest(Event, Versioned):
    """``npo-integration.fetch-requests``, key npo_id: the owner of that
    partition pulls the stream."""

    event_type: Literal["fetch.requested"] = "fetch.requested"
    npo_id: NpoId
    stream: StreamName
    reason: Literal["schedule", "manual"] = "schedule"
    trace_id: str = Field(min_length=1)
    full_refresh: bool = Field(
        False, description="forget the stream's cursor and pull everything from the start"
    )
    re_emit: bool = Field(
        False,
        description=(
            "a full refresh whose records each become an event again, unchanged or not "
            "(``RawPage.re_emit``)"
        ),
    )

    @model_validator(mode="after")
    def _re_emit_is_a_full_refresh(self) -> FetchRequest:
        if self.re_emit and not self.full_refresh:
            raise ValueError("re_emit: only with full_refresh (a re-emit pulls everything)")
        return self


class RawRecord(Event, Versioned):
    """``npo-integration.raw-records``, key npo_id: one NPO's records stay in order.

    The record is kept exactly as the NPO sent it (the seed's integration store).
    """

    event_type: Literal["raw_record.fetched"] = "raw_record.fetched"
    npo_id: NpoId
    stream: StreamName
    record_key: str = Field(description="npo_id/stream/<NPO's id>: stable across fetches")
    content_hash: str
    fetched_at: AwareDatetime = Field(default_factory=utc_now)
    trace_id: str
    payload: Any
    re_emit: bool = Field(
        False, description="fetched by a re-emit (``trace_id``): an event even if unchanged"
    )


class RawItem(BaseModel):
    """One record of a ``RawPage``: the NPO's record exactly as sent, with its
    stable key and content hash."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    record_key: str = Field(description="npo_id/stream/<NPO's id>: stable across fetches")
    content_hash: str
    payload: Any


class RawPage(Event, Versioned):
    """``npo-integration.raw-records``, key npo_id: records of one NPO stream fetched together (a
    page, or part of a large one), kept exactly as the NPO sent them (the seed's integration store).

    One message per page, not per record: Kafka and Faust cost per message, and a
    page is what the pull path has in hand. A re-drive is a page of one record.
    """

    event_type: Literal["raw_page.fetched"] = "raw_page.fetched"
    npo_id: NpoId
    stream: StreamName
    fetched_at: AwareDatetime = Field(default_factory=utc_now)
    trace_id: str
    records: list[RawItem] = Field(min_length=1)
    re_emit: bool = Field(
        False,
        description=(
            "fetched by a re-emit (``npo-integration fetch --re-emit``): each record becomes an "
            "event again although its content is unchanged, once per re-emit (its trace id)"
        ),
    )
    sweep_records: int | None = Field(
        None,
        ge=0,
        description=(
            "set on the last page of a complete full sweep: how many distinct records the sweep "
            "sent; ingestion ends the sweep after this page's records, as a ``SweepCompleted`` "
            "with that count would (one message less per pull)"
        ),
    )
    in_sweep: bool | None = Field(
        None,
        description=(
            "the page is of a full sweep (its records are counted as seen until the sweep's "
            "end), as the pull that fetched it decided; unset on a re-drive or replay, and in "
            "pages written before this field: ingestion then asks the stream's config"
        ),
    )

    def sweep_end(self) -> SweepCompleted | None:
        """The sweep end this page carries, as the marker it stands for (its id derived from
        the page's: the same on every reading, so are the removals it decides)."""
        if self.sweep_records is None:
            return None
        return SweepCompleted(
            event_id=f"{self.event_id}/sweep",
            occurred_at=self.occurred_at,
            npo_id=self.npo_id,
            stream=self.stream,
            trace_id=self.trace_id,
            records=self.sweep_records,
            completed_at=self.fetched_at,
        )

    def unpacked(self) -> list[RawRecord]:
        """Each record as a ``RawRecord`` (already validated as part of this page)."""
        return [
            validated(
                RawRecord,
                {
                    "event_id": f"{self.event_id}/{index}",
                    "event_type": "raw_record.fetched",
                    "occurred_at": self.occurred_at,
                    "npo_id": self.npo_id,
                    "stream": self.stream,
                    "record_key": item.record_key,
                    "content_hash": item.content_hash,
                    "fetched_at": self.fetched_at,
                    "trace_id": self.trace_id,
                    "payload": item.payload,
                    "re_emit": self.re_emit,
                },
            )
            for index, item in enumerate(self.records)
        ]

    @classmethod
    def of(cls, record: RawRecord) -> RawPage:
        """A page of one record, as fetched (same fetch time and trace): what a re-drive sends."""
        return cls(
            npo_id=record.npo_id,
            stream=record.stream,
            fetched_at=record.fetched_at,
            trace_id=record.trace_id,
            re_emit=record.re_emit,
            records=[
                RawItem(
                    record_key=record.record_key,
                    content_hash=record.content_hash,
                    payload=record.payload,
                )
            ],
        )


class SweepCompleted(Event, Versioned):
    """``npo-integration.raw-records``, key npo_id: a full (not incremental) pull of a stream
    ended without error, after its pages (same partition, so ingestion reads it after them).

    ``records`` is how many distinct records the sweep sent: ingestion compares it with what it
    saw of the sweep, and removes what is absent only when it saw all of it (``ingest.removals``).
    """

    event_type: Literal["raw_sweep.completed"] = "raw_sweep.completed"
    npo_id: NpoId
    stream: StreamName
    trace_id: str
    records: int = Field(ge=0)
    completed_at: AwareDatetime = Field(default_factory=utc_now)


class RemovalDecision(Event, Versioned):
    """``npo-integration.raw-records``, key npo_id: an operator's answer to a held mass removal
    (``RemovalHold``), read in order with that NPO's pages by the worker holding the hold."""

    event_type: Literal["raw_removals.decided"] = "raw_removals.decided"
    npo_id: NpoId
    stream: StreamName
    decision: Literal["confirm", "reject"]
    requested_by: Literal["admin-api", "cli"] = "admin-api"


RawMessage = Annotated[
    RawPage | RawRecord | SweepCompleted | RemovalDecision, Field(discriminator="event_type")
]
"""What the raw-records topic holds: pages, single records written before pages existed, the
end of each complete sweep and operators' removal decisions."""


class DeadLetter(Event, Versioned):
    """``npo-integration.dead-letters``: what could not be handled, with
    the reason and the original."""

    event_type: Literal["dead_letter"] = "dead_letter"
    source_topic: str
    reason: str
    npo_id: str | None = None
    record_key: str | None = None
    key: str | None = None
    payload: Any = None


class EnrolmentResult(Event):
    """``npo-integration.enrolment-results``, key assignment_id."""

    event_type: Literal["enrolment.result"] = "enrolment.result"
    assignment_id: str
    npo_id: NpoId
    status: Literal["confirmed", "failed", "cancelled", "cancel_not_supported", "unknown"]
    npo_enrolment_ref: str | None = None
    reason: str | None = None
    attempts: int = 0
    decided_at: datetime = Field(default_factory=utc_now)


class EnrolmentLink(Event, Versioned):
    """``npo-integration.enrolment-links``, key npo_id: ties what the NPO calls an
    enrolment to the platform's assignment.

    Keyed by npo_id, so the links table sits on the same partition as that NPO's
    raw records and the ingestion agent looks progress up locally.
    """

    event_type: Literal["enrolment.linked", "enrolment.unlinked"] = "enrolment.linked"
    npo_id: NpoId
    assignment_id: str
    candidate_id: str
    npo_enrolment_ref: str | None = None
    npo_user_ref: str | None = None
    npo_offering_ref: str


class IngestCommand(Event, Versioned):
    """``npo-integration.ingest-commands``, key npo_id: an operator's request to the
    worker owning that NPO's records.

    ``ingest.redrive``: re-emit every unprocessed record of the NPO onto raw-records,
    whatever its attempts so far (after a mapping fix, say). ``ingest.purge``: the NPO is
    deactivated past ``NPO_STATE_RETENTION_DAYS``, or erased; delete a batch of its state (the
    state sweep, ``timers/state_sweep.py``, sends it; the step sends the next while some is left).
    """

    event_type: Literal["ingest.redrive", "ingest.purge"] = "ingest.redrive"
    npo_id: NpoId
    requested_by: Literal["admin-api", "cli", "state-sweep"] = "admin-api"
