"""Replaying a mapping change before it goes live: the current and the new config's transforms
over an NPO's kept offering records, compared record by record. Nothing is published.

The records are the last processed content of each offering record (``npo-record-payloads``,
kept by ingestion when a record's content changes; docs/plugins.md says why this store and not
the raw topic). The new config is checked and sealed exactly as the registry does on submit
(``ConfigSubmitter.upsert_command``, as the preview does), both transforms run through the one
plug-in caller (``PluginRunner``). Per record the outcome is a platform model, nothing (the
filter leaves it out) or an error; ``compare`` sorts the pairs into changed (with the fields
that differ), newly failing, newly passing, newly filtered and newly included.

Faust-free: the view (``views/replay.py``) hands in the kept records and the current config.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from npo_integration.expressions import parse_path
from npo_integration.ingest.ingestor import METHOD_OF_KIND
from npo_integration.models.internal import ConfigCommand
from npo_integration.models.npo_config import ConfigSource, NpoIntegrationConfig, StreamConfig
from npo_integration.models.secret import REDACTED
from npo_integration.models.state import KeptPayload
from npo_integration.pull.records import record_id
from npo_integration.registry.submit import ConfigSubmitter
from npo_integration.transforms.contract import TransformError, TransformPlugin
from npo_integration.transforms.invoke import PluginRunner, plugin_call
from npo_integration.transforms.registry import PluginRegistry

CHUNK = 500
"""Records transformed per hand-over to the plug-in runner: declarative mappings run on the event
loop, so a large NPO's replay yields to the worker's other work between chunks."""
MAX_EXAMPLES = 20
MAX_LISTED = 100
"""Records listed per category at most (the counts are complete)."""
PERSONAL_FIELDS = frozenset({"npo_user_ref"})
"""Platform fields that may name a candidate: shown as redacted in examples."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DiffRequest(_Strict):
    """``POST /admin/npos/{npo_id}/diff``: the new config, as it would be registered."""

    config: NpoIntegrationConfig
    examples: int = Field(3, ge=0, le=MAX_EXAMPLES, description="changed records shown per stream")
    apply: bool = Field(
        False,
        description=(
            "register the config, then re-emit only the records whose events changed (the ones "
            "newly passing and newly filtered included)"
        ),
    )


class FieldCount(_Strict):
    field: str
    records: int


class ChangeExample(_Strict):
    record_key: str
    record_id: str | None
    changes: dict[str, tuple[Any, Any]] = Field(description="field -> [before, after]")


class RecordListed(_Strict):
    """A record that newly fails (with the new error) or newly passes (with the old one)."""

    record_key: str
    record_id: str | None
    error: str | None = None
    field: str | None = None
    path: str | None = None


class StreamDiff(_Strict):
    key: str
    kind: str
    records: int = Field(description="kept records replayed")
    events_changed: int = Field(description="records whose platform event would change")
    unchanged: int
    changed: int = Field(description="an event either way, with other values")
    fields: list[FieldCount] = Field(default_factory=list)
    examples: list[ChangeExample] = Field(default_factory=list)
    newly_failing: list[RecordListed] = Field(default_factory=list)
    newly_failing_count: int = 0
    newly_passing: list[RecordListed] = Field(default_factory=list)
    newly_passing_count: int = 0
    newly_filtered: list[str] = Field(
        default_factory=list, description="record keys: an event now, none then (a removal)"
    )
    newly_included: list[str] = Field(default_factory=list, description="record keys")
    still_failing: int = 0


class DiffAnswer(_Strict):
    npo_id: str
    current_version: int
    streams: list[StreamDiff]
    events_changed: int
    not_replayed: list[str] = Field(
        default_factory=list,
        description="streams without kept records to replay (progress streams, new streams)",
    )
    applied: bool = False
    version: int | None = Field(None, description="the version the apply made")
    re_emitted: int = 0
    warnings: list[str] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Kept:
    """One kept record: its key and its last processed content."""

    record_key: str
    kept: KeptPayload


Result = dict[str, Any] | TransformError | None
"""A record's outcome: the platform model (JSON), an error, or ``None`` (left out)."""


def _listed(record: Kept, found: str | None, error: TransformError | None) -> RecordListed:
    if error is None:
        return RecordListed(record_key=record.record_key, record_id=found)
    return RecordListed(
        record_key=record.record_key,
        record_id=found,
        error=error.reason,
        field=error.field,
        path=error.path,
    )


def _shown(name: str, value: Any) -> Any:
    return REDACTED if name in PERSONAL_FIELDS and value is not None else value


def compare(
    key: str,
    kind: str,
    records: Sequence[Kept],
    ids: Sequence[str | None],
    before: Sequence[Result],
    after: Sequence[Result],
    *,
    examples: int,
) -> tuple[StreamDiff, list[Kept]]:
    """The stream's diff, and the records whose event changed (what an apply re-emits)."""
    fields: Counter[str] = Counter()
    shown: list[ChangeExample] = []
    failing: list[RecordListed] = []
    passing: list[RecordListed] = []
    filtered: list[str] = []
    included: list[str] = []
    re_emit: list[Kept] = []
    unchanged = changed = still_failing = failing_count = passing_count = 0
    for record, found, old, new in zip(records, ids, before, after, strict=True):
        if isinstance(old, TransformError) and isinstance(new, TransformError):
            still_failing += 1
        elif isinstance(new, TransformError):
            failing_count += 1
            if len(failing) < MAX_LISTED:
                failing.append(_listed(record, found, new))
        elif isinstance(old, TransformError):
            passing_count += 1
            if len(passing) < MAX_LISTED:
                passing.append(_listed(record, found, old))
            if new is not None:
                re_emit.append(record)
        elif old == new:
            unchanged += 1
        elif new is None:
            filtered.append(record.record_key)
            re_emit.append(record)
        elif old is None:
            included.append(record.record_key)
            re_emit.append(record)
        else:
            assert isinstance(old, dict) and isinstance(new, dict)
            changed += 1
            names = sorted(n for n in old.keys() | new.keys() if old.get(n) != new.get(n))
            fields.update(names)
            re_emit.append(record)
            if len(shown) < examples:
                shown.append(
                    ChangeExample(
                        record_key=record.record_key,
                        record_id=found,
                        changes={n: (_shown(n, old.get(n)), _shown(n, new.get(n))) for n in names},
                    )
                )
    diff = StreamDiff(
        key=key,
        kind=kind,
        records=len(records),
        events_changed=len(re_emit),
        unchanged=unchanged,
        changed=changed,
        fields=[FieldCount(field=n, records=c) for n, c in sorted(fields.items())],
        examples=shown,
        newly_failing=failing,
        newly_failing_count=failing_count,
        newly_passing=passing,
        newly_passing_count=passing_count,
        newly_filtered=filtered[:MAX_LISTED],
        newly_included=included[:MAX_LISTED],
        still_failing=still_failing,
    )
    return diff, re_emit


KeptOf = Callable[[str, str], Iterable[Kept]]
"""(npo_id, stream key) -> the stream's kept records on this worker."""


@dataclass(frozen=True)
class Replay:
    """A computed diff, with what an apply needs: the checked command and, per stream key, the
    records whose events changed."""

    answer: DiffAnswer
    command: ConfigCommand
    re_emit: dict[str, list[Kept]]


class Differ:
    """Replays new configs over kept records with the worker's checks, plug-ins and runner."""

    def __init__(
        self,
        *,
        submitter: ConfigSubmitter,
        plugin_registry: PluginRegistry,
        plugin_runner: PluginRunner,
        transform_timeout: float,
        kept_of: KeptOf,
    ) -> None:
        self._submitter = submitter
        self._plugins = plugin_registry
        self._runner = plugin_runner
        self._timeout = transform_timeout
        self._kept_of = kept_of

    async def diff(
        self,
        request: DiffRequest,
        current: NpoIntegrationConfig,
        version: int,
        source: ConfigSource = "admin-api",
    ) -> Replay:
        """The replay of ``request.config`` against ``current``; ``ConfigError`` (naming the
        field) when the registry would refuse the new config. ``source``: who changes it, should
        it be applied."""
        command = self._submitter.upsert_command(request.config, source)  # sent on apply
        assert command.config is not None  # an upsert carries its config
        new = command.config
        streams: list[StreamDiff] = []
        not_replayed: list[str] = []
        re_emit: dict[str, list[Kept]] = {}
        for key, npo_source, stream in new.all_streams():
            old = current.stream(key)
            if old is None or stream.kind != "offerings" or old[1].kind != "offerings":
                not_replayed.append(key)
                continue
            records = list(self._kept_of(new.npo_id, key))
            npo_id = new.npo_id
            before = await self._results(self._plugins.for_config(old[0]), old[1], records, npo_id)
            after = await self._results(self._plugins.load(npo_source), stream, records, npo_id)
            id_path = parse_path(stream.record_id_path)
            ids = [record_id(r.kept.payload, id_path) for r in records]
            diff, changed = compare(
                key, stream.kind, records, ids, before, after, examples=request.examples
            )
            streams.append(diff)
            re_emit[key] = changed
        answer = DiffAnswer(
            npo_id=new.npo_id,
            current_version=version,
            streams=streams,
            events_changed=sum(s.events_changed for s in streams),
            not_replayed=not_replayed,
        )
        return Replay(answer=answer, command=command, re_emit=re_emit)

    async def _results(
        self, plugin: TransformPlugin, stream: StreamConfig, records: Sequence[Kept], npo_id: str
    ) -> list[Result]:
        method = METHOD_OF_KIND[stream.kind]
        outputs: list[Any] = []
        for start in range(0, len(records), CHUNK):
            calls = [
                plugin_call(plugin, method, r.kept.payload, key=npo_id)
                for r in records[start : start + CHUNK]
            ]
            outputs += await self._runner.map(calls, timeout=self._timeout)
            await asyncio.sleep(0)
        results: list[Result] = []
        for output in outputs:
            if isinstance(output, TransformError) or output is None:
                results.append(output)
            elif isinstance(output, Exception):  # a plug-in's own exception
                results.append(TransformError(f"{type(output).__name__}: {output}"))
            else:
                results.append(output.model_dump(mode="json"))
        return results


__all__ = [
    "ChangeExample",
    "DiffAnswer",
    "DiffRequest",
    "Differ",
    "Kept",
    "Replay",
    "StreamDiff",
    "compare",
]
