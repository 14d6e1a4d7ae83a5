"""Values of the partitioned tables: per-NPO pull bookkeeping and per-record processed flags."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from npo_integration.models.npo_config import StreamName


class StreamPullState(BaseModel):
    """One NPO stream's schedule and cursor. Persisted so a restart neither skips nor doubles a run."""

    model_config = ConfigDict(frozen=True)

    next_run_at: AwareDatetime | None = None
    running_since: AwareDatetime | None = None
    running_trace_id: str | None = None
    last_success_at: AwareDatetime | None = None
    last_error: str | None = None
    last_error_at: AwareDatetime | None = None
    consecutive_failures: int = 0
    cursor: str | None = None
    records_last_run: int = 0


class PullState(BaseModel):
    model_config = ConfigDict(frozen=True)

    npo_id: str
    streams: dict[StreamName, StreamPullState] = Field(default_factory=dict)

    def stream(self, name: StreamName) -> StreamPullState:
        return self.streams.get(name, StreamPullState())

    def with_stream(self, name: StreamName, state: StreamPullState) -> "PullState":
        return self.model_copy(update={"streams": {**self.streams, name: state}})


class RecordState(BaseModel):
    """The integration store's processed flag for one NPO record."""

    model_config = ConfigDict(frozen=True)

    record_key: str
    npo_id: str
    stream: StreamName
    content_hash: str
    processed: bool = False
    processed_hash: str | None = Field(None, description="hash of the content last turned into an event")
    attempts: int = 0
    last_error: str | None = None
    first_seen_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None
