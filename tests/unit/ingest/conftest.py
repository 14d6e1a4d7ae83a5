"""Fakes for the ingestion path: in-memory tables, an in-memory output log, a settable clock."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from npo_integration.delivery.once import Addressed, OncePublisher
from npo_integration.ingest.drift import ShapeWatch
from npo_integration.ingest.ingestor import Ingestor, Outcome, OutputTopics, SourcePartition
from npo_integration.ingest.retry import redrive_policy
from npo_integration.models.codec import decode
from npo_integration.models.internal import EnrolmentLink, RawRecord
from npo_integration.models.state import PendingBatch, RecordState, UnprocessedRecord
from npo_integration.partitioning import partition_for
from npo_integration.pull.raw import raw_record
from npo_integration.transforms.invoke import PluginCall, PluginRunner

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
TOPICS = OutputTopics(offerings="offerings", assignment_updated="assignment-updated")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Crash(BaseException):
    """The worker dies here (SIGKILL): nothing after it runs, no handler catches it."""


class FakeStates:
    """The record-state table. ``durable`` is what a worker recovering from the changelog would see:
    a write becomes durable only when ``wait_acked`` is awaited (the worst case after a crash)."""

    def __init__(self) -> None:
        self.local: dict[str, RecordState] = {}
        self.durable: dict[str, RecordState] = {}
        self.queued: dict[str, RecordState] = {}
        self.log: list[str] = []

    def get(self, record_key: str) -> RecordState | None:
        return self.local.get(record_key)

    def put(self, state: RecordState) -> None:
        self.local[state.record_key] = state
        self.queued[state.record_key] = state
        self.log.append("put")

    def put_all_encoded(self, states: Sequence[tuple[str, bytes]]) -> None:
        """Decoded as a recovering worker would read them (a state that does not parse fails)."""
        for key, value in states:
            state = decode(RecordState, value)
            assert state.record_key == key
            self.put(state)

    def flush(self) -> None:
        self.log.append("flush")

    async def wait_acked(self) -> None:
        self.durable.update(self.queued)
        self.queued.clear()
        self.log.append("wait_acked")

    def recovered_from_changelog(self) -> FakeStates:
        """A fresh worker after a crash: only the acknowledged (durable) writes are there."""
        fresh = FakeStates()
        fresh.local = dict(self.durable)
        fresh.durable = dict(self.durable)
        return fresh


class FakePending:
    """The per-partition intents of the last published batch, durable
    once ``wait_acked`` returns."""

    def __init__(self) -> None:
        self.local: dict[int, PendingBatch] = {}
        self.durable: dict[int, PendingBatch] = {}
        self.durable_writes = 0

    def unfinished(self, partition: int, finished_batch_id: str | None) -> PendingBatch | None:
        batch = self.local.get(partition)
        return None if batch is None or batch.batch_id == finished_batch_id else batch

    def put_encoded(self, partition: int, batch_id: str, value: bytes) -> None:
        """Decoded as a recovering worker would read it (a batch that does not parse fails)."""
        batch = decode(PendingBatch, value)
        assert (batch.source_partition, batch.batch_id) == (partition, batch_id)
        self.local[partition] = batch

    async def wait_acked(self) -> None:
        self.durable_writes += sum(1 for p, b in self.local.items() if self.durable.get(p) is not b)
        self.durable.update(self.local)

    def recovered_from_changelog(self) -> FakePending:
        fresh = FakePending()
        fresh.local = dict(self.durable)
        fresh.durable = dict(self.durable)
        return fresh


class FakeUnprocessed:
    def __init__(self) -> None:
        self.data: dict[str, UnprocessedRecord] = {}

    def get(self, record_key: str) -> UnprocessedRecord | None:
        return self.data.get(record_key)

    def put(self, entry: UnprocessedRecord) -> None:
        self.data[entry.raw.record_key] = entry

    def delete(self, record_key: str) -> None:
        del self.data[record_key]


class FakePayloads:
    """The kept offering contents: record key -> (content hash, payload)."""

    def __init__(self) -> None:
        self.data: dict[str, tuple[str, Any]] = {}

    def put_all(self, records: Sequence[RawRecord]) -> None:
        for raw in records:
            self.data[raw.record_key] = (raw.content_hash, raw.payload)

    def delete(self, record_key: str) -> None:
        self.data.pop(record_key, None)

    def flush(self) -> None:
        """Writes land in ``data`` at once."""


class FakeLog:
    """Output topics in memory: an ``OutputLog`` plus the send that appends to it."""

    def __init__(self, partitions: int = 4) -> None:
        self.n = partitions
        self.topics: dict[str, list[list[tuple[bytes, bytes]]]] = {}
        self.calls: list[str] = []
        self.crash_before_send = False
        self.crash_after_send = False
        self.fail_send: Exception | None = None
        self.lose_acks: Exception | None = None  # the broker has the messages, the send fails
        self.headers: dict[str, list[tuple[tuple[str, bytes], ...]]] = {}
        """Each sent message's Kafka headers, by topic, in order sent."""

    def _parts(self, topic: str) -> list[list[tuple[bytes, bytes]]]:
        return self.topics.setdefault(topic, [[] for _ in range(self.n)])

    async def partitions(self, topic: str) -> int:
        return self.n

    async def end_offsets(
        self, partitions: Sequence[tuple[str, int]]
    ) -> dict[tuple[str, int], int]:
        self.calls.append("end_offsets")
        return {(topic, p): len(self._parts(topic)[p]) for topic, p in partitions}

    async def find(self, topic: str, partition: int, wanted: dict[str, int]) -> set[str]:
        self.calls.append("scan")
        found = set()
        for offset, (_, value) in enumerate(self._parts(topic)[partition]):
            event_id = json.loads(value)["event_id"]
            if event_id in wanted and offset >= wanted[event_id]:
                found.add(event_id)
        return found

    async def send_all(self, messages: Sequence[Addressed]) -> list[BaseException | None]:
        self.calls.append("send")
        if self.crash_before_send:
            raise Crash()
        if self.fail_send is not None:
            return [self.fail_send] * len(messages)
        for m in messages:
            assert m.value is not None and m.partition == partition_for(m.key.decode(), self.n), (
                "sent to the key's partition"
            )
            self._parts(m.topic)[m.partition].append((m.key, m.value))
            self.headers.setdefault(m.topic, []).append(m.headers)
        if self.crash_after_send:
            raise Crash()
        if self.lose_acks is not None:
            return [self.lose_acks] * len(messages)
        return [None] * len(messages)

    def events(self, topic: str) -> list[dict[str, Any]]:
        return [json.loads(v) for part in self._parts(topic) for _, v in part]

    def keys(self, topic: str) -> list[str]:
        return [k.decode() for part in self._parts(topic) for k, _ in part]


class Plugin:
    """A test plug-in: offerings are ``{"id", "title"}``; progress ``{"id", "enr",
    "user", "course", "state"}``."""

    name = "test"
    contract_version = 1

    def __init__(self) -> None:
        self.broken: Exception | None = None

    def offering(self, record: Any) -> Any:
        if self.broken is not None:
            raise self.broken
        if record.get("site"):
            return None
        return {"npo_offering_ref": str(record["id"]), "title": record["title"]}

    def progress(self, record: Any) -> Any:
        if self.broken is not None:
            raise self.broken
        return {
            "npo_enrolment_ref": record.get("enr"),
            "npo_user_ref": record.get("user"),
            "npo_offering_ref": record.get("course"),
            "status": record.get("state", "in_progress"),
            "progress": record.get("progress"),
        }

    def enrolment_request(self, assignment: Any) -> Any:  # pragma: no cover - not used here
        raise NotImplementedError

    def unenrol_request(self, assignment: Any, ref: str) -> Any:  # pragma: no cover
        raise NotImplementedError

    def enrolment_ref(self, body: Any, assignment: Any) -> Any:  # pragma: no cover
        raise NotImplementedError


class Harness:
    """An ``Ingestor`` over fakes, and what it produced."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.states = FakeStates()
        self.pending = FakePending()
        self.unprocessed = FakeUnprocessed()
        self.log = FakeLog()
        self.plugin = Plugin()
        self.links: dict[str, EnrolmentLink] = {}
        self.payloads = FakePayloads()
        self.shapes: ShapeWatch | None = None
        self.dead_letters: list[tuple[RawRecord, str]] = []
        self.runner = PluginRunner(max_workers=2)
        self.retry = redrive_policy(backoff_seconds=10, max_attempts=3)
        self.ingestor = self.build()

    def build(self) -> Ingestor:
        async def run(calls: Sequence[PluginCall]) -> list[Any]:
            return await self.runner.map(calls, timeout=1.0)

        async def dead_letter(raw: RawRecord, reason: str) -> None:
            self.dead_letters.append((raw, reason))

        def plugin_for(npo_id: str, stream: str) -> Plugin:
            return self.plugin

        def find_link(keys: list[str]) -> EnrolmentLink | None:
            return next((self.links[k] for k in keys if k in self.links), None)

        return Ingestor(
            states=self.states,
            unprocessed=self.unprocessed,
            pending=self.pending,
            plugin_for=plugin_for,
            run_plugins=run,
            find_link=find_link,
            publisher=OncePublisher(self.log, self.log.send_all, self.clock),
            dead_letter=dead_letter,
            topics=TOPICS,
            retry=self.retry,
            clock=self.clock,
            payloads=self.payloads,
            shapes=self.shapes,
        )

    async def ingest(self, raw: RawRecord) -> Outcome:
        """One record, as a batch of one from its NPO's partition."""
        [[outcome]] = await self.ingestor.ingest([SourcePartition(self.partition_of(raw), [raw])])
        return outcome

    async def ingest_all(self, raws: list[RawRecord]) -> list[Outcome]:
        """Records as one batch, grouped by partition like the agent does;
        outcomes in the given order."""
        by_partition: dict[int, list[RawRecord]] = {}
        for raw in raws:
            by_partition.setdefault(self.partition_of(raw), []).append(raw)
        parts = [SourcePartition(p, records) for p, records in by_partition.items()]
        results = await self.ingestor.ingest(parts)
        outcome_of = {
            id(r): o
            for part, outs in zip(parts, results, strict=True)
            for r, o in zip(part.records, outs, strict=True)
        }
        return [outcome_of[id(r)] for r in raws]

    @staticmethod
    def partition_of(raw: RawRecord) -> int:
        return partition_for(raw.npo_id, 4)

    def restart(self) -> None:
        """A new worker after SIGKILL: table state from the changelog, the same output log."""
        self.states = self.states.recovered_from_changelog()
        self.pending = self.pending.recovered_from_changelog()
        self.ingestor = self.build()

    def raw(
        self, record: dict[str, Any], *, stream: str = "offerings", npo_id: str = "acme"
    ) -> RawRecord:
        self.clock.advance(1)
        made = raw_record(npo_id, stream, str(record["id"]), record, "trace")  # type: ignore[arg-type]
        return made.model_copy(update={"fetched_at": self.clock.now})


@pytest.fixture
def harness() -> Harness:
    h = Harness()
    yield h
    h.runner.shutdown()
