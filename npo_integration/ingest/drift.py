"""Schema drift: an NPO stream's records change shape before they turn into dead letters.

Per NPO stream, the watch learns a baseline from the first ``LEARN`` records it sees (top-level
keys and the kind of their values), then flags a record where

- a field the mapping reads, present in every learned record, is absent (``missing``);
- such a field's value is of another kind (``type``; ``null`` is not a kind: optional values);
- a field the baseline lacks appears in more than half of a window of ``WINDOW`` records
  (``new_field``, the shape of a rename's other half).

Each finding keeps the first record that showed it (its key, never its content) and a count.
Cheap on the ingestion hot path (issue 9): only records whose content changed reach it; a record's
shape is a tuple of (key, kind) pairs, and the verdict on a shape is cached per stream by the
hash of its keys and its values' types (a collision, one in 2**64, would reuse another shape's
verdict), so a stream of same-shaped records costs two tuples made in C and one dict look-up per
record; the (key, kind) shape is made only to learn and on a cache miss. The fields a
declarative mapping reads come from its rules and filters (``mapping_reads``); a plug-in's are
unknown, so every baseline field counts as read. State is this worker's memory: a restart or a
rebalance relearns, a config change (a new ``reads``) relearns its stream; findings stay until
then. At most ``MAX_STREAMS`` baselines are kept (least recently seen dropped, relearned).

Faust-free: the ingestion agent hands in ``reads`` and the metric.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from npo_integration.expressions import parse_path, parse_template
from npo_integration.models.internal import RawRecord
from npo_integration.transforms.declarative.spec import DeclarativeMapping, RecordMapping

LEARN = 20
"""Records a baseline is learned from."""
WINDOW = 20
"""Records over which a new field's share is judged."""
NEW_FIELD_SHARE = 0.5
MAX_STREAMS = 10_000
"""Baselines kept per worker (a few KB each: the baseline's fields and the cached verdicts)."""
MAX_FINDINGS = 20
"""Findings kept per NPO (records with free-form keys would otherwise add one per key)."""
MAX_SHAPES = 64
"""Shapes whose verdict is cached per stream, by the shape's hash (a stream of free-form records
clears it often)."""

DriftKind = Literal["missing", "type", "new_field"]
Reads = frozenset[str] | None
"""Top-level fields a stream's mapping reads; ``None``: unknown (a plug-in), every field."""
ReadsOf = Callable[[str, str], Reads]
"""(npo_id, stream) -> the fields its mapping reads now. Compared by value, not by config object:
a baseline holding its config's objects would keep every watched stream's decoded config in
memory."""


class DriftFinding(BaseModel):
    """One change of shape of an NPO stream, as the status shows it."""

    model_config = ConfigDict(frozen=True)

    stream: str
    kind: DriftKind
    field: str
    detail: str
    first_record_key: str
    first_seen_at: datetime
    records: int = 1


_KINDS: dict[type, str] = {
    str: "str",
    int: "number",
    float: "number",
    bool: "bool",
    type(None): "null",
    dict: "object",
    list: "array",
}
"""A JSON value's kind by its type; ``int`` and ``float`` are both ``number`` (5 then 5.5 is no
drift)."""

Shape = tuple[tuple[str, str], ...]


def shape_of(payload: Any) -> Shape | None:
    """Top-level (key, kind) pairs of a JSON object; ``None`` for anything else."""
    if type(payload) is not dict:
        return None
    kinds = _KINDS
    return tuple(zip(payload, [kinds.get(type(v), "other") for v in payload.values()], strict=True))


def _top(path_text: str) -> str | None:
    steps = parse_path(path_text).steps
    return steps[0] if steps and isinstance(steps[0], str) else None


def _record_reads(mapping: RecordMapping) -> set[str]:
    found = {_top(condition.path) for condition in mapping.filter}
    for rule in mapping.fields.values():
        if rule.path is not None:
            found.add(_top(rule.path))
        elif rule.template is not None:
            placeholders = parse_template(str(rule.template)).placeholders
            found.update(
                p.steps[0] for p in placeholders if p.steps and isinstance(p.steps[0], str)
            )
    return {name for name in found if name is not None}


def mapping_reads(mapping: DeclarativeMapping, kind: str) -> frozenset[str]:
    """The top-level fields a declarative mapping reads of a record of the stream kind."""
    record = mapping.offering if kind == "offerings" else mapping.progress
    return frozenset(_record_reads(record)) if record is not None else frozenset()


@dataclass(frozen=True, slots=True)
class _Verdict:
    findings: list[tuple[DriftKind, str, str]]
    newcomers: tuple[str, ...]


@dataclass(eq=False)
class _Stream:
    reads: Reads
    learned: int = 0
    present: Counter[str] = field(default_factory=Counter)
    kinds: dict[str, Counter[str]] = field(default_factory=dict)
    baseline: dict[str, str] | None = None  # field -> kind, fields in every learned record
    known: frozenset[str] = frozenset()  # every field seen while learning
    verdicts: dict[int, _Verdict] = field(default_factory=dict)
    window: int = 0
    newcomers: Counter[str] = field(default_factory=Counter)

    def learn(self, shape: Shape) -> None:
        self.learned += 1
        for key, kind in shape:
            self.present[key] += 1
            if kind != "null":
                self.kinds.setdefault(key, Counter())[kind] += 1
        if self.learned >= LEARN:
            self.baseline = {
                key: (self.kinds[key].most_common(1)[0][0] if key in self.kinds else "null")
                for key, count in self.present.items()
                if count == self.learned
            }
            self.known = frozenset(self.present)
            self.present, self.kinds = Counter(), {}

    def verdict(self, payload: dict[str, Any]) -> _Verdict:
        """What is wrong with a record of this content's shape, and its fields the baseline
        lacks."""
        # Keys and value types, tupled in C: a third of making the (key, kind) shape.
        cache_key = hash((tuple(payload), tuple(map(type, payload.values()))))
        cached = self.verdicts.get(cache_key)
        if cached is not None:
            return cached
        assert self.baseline is not None
        shape = shape_of(payload)
        assert shape is not None
        kinds = dict(shape)
        found: list[tuple[DriftKind, str, str]] = []
        for name, expected in self.baseline.items():
            if self.reads is not None and name not in self.reads:
                continue
            kind = kinds.get(name)
            if kind is None:
                found.append(("missing", name, f"field {name!r} is absent"))
            elif kind not in ("null", expected) and expected != "null":
                found.append(("type", name, f"field {name!r} is {kind}, was {expected}"))
        verdict = _Verdict(found, tuple(name for name, _ in shape if name not in self.known))
        if len(self.verdicts) >= MAX_SHAPES:
            self.verdicts.clear()
        self.verdicts[cache_key] = verdict
        return verdict


class ShapeWatch:
    """Learned baselines and drift findings of the NPO streams this worker ingests."""

    def __init__(
        self,
        reads_of: ReadsOf,
        *,
        on_drift: Callable[[DriftKind], None] = lambda kind: None,
        max_streams: int = MAX_STREAMS,
    ) -> None:
        self._reads_of = reads_of
        self._on_drift = on_drift
        self._max_streams = max_streams
        self._streams: OrderedDict[tuple[str, str], _Stream] = OrderedDict()
        self._findings: dict[str, dict[tuple[str, DriftKind, str], DriftFinding]] = {}

    def observe(self, records: Sequence[RawRecord], now: datetime) -> None:
        """The changed records of a batch (removal records have no payload: skipped)."""
        groups: dict[tuple[str, str], list[RawRecord]] = {}
        for raw in records:
            if raw.payload is not None:
                groups.setdefault((raw.npo_id, raw.stream), []).append(raw)
        for key, group in groups.items():
            try:
                reads = self._reads_of(*key)
            except Exception:  # no config (the ingestion fails the records itself)
                continue
            self._observe(self._stream(key, reads), key, group, now)

    def _stream(self, key: tuple[str, str], reads: Reads) -> _Stream:
        stream = self._streams.get(key)
        if stream is not None and stream.reads != reads:
            # the mapping reads other fields: relearn, and its findings are moot (another config
            # reading the same fields keeps the baseline)
            self._forget(key)
            stream = None
        if stream is None:
            stream = self._streams[key] = _Stream(reads=reads)
            while len(self._streams) > self._max_streams:
                self._streams.popitem(last=False)
        else:
            self._streams.move_to_end(key)
        return stream

    def _observe(
        self, stream: _Stream, key: tuple[str, str], records: Iterable[RawRecord], now: datetime
    ) -> None:
        for raw in records:
            payload = raw.payload
            if type(payload) is not dict:
                continue
            if stream.baseline is None:
                shape = shape_of(payload)
                assert shape is not None
                stream.learn(shape)
                continue
            verdict = stream.verdict(payload)
            for kind, name, detail in verdict.findings:
                self._found(key, kind, name, detail, raw.record_key, now)
            stream.window += 1
            if verdict.newcomers:
                stream.newcomers.update(verdict.newcomers)
            if stream.window >= WINDOW:
                for name, count in stream.newcomers.items():
                    if count > NEW_FIELD_SHARE * stream.window:
                        detail = f"field {name!r} is new, in {count} of the last {stream.window}"
                        self._found(key, "new_field", name, detail, raw.record_key, now)
                stream.window, stream.newcomers = 0, Counter()

    def _found(
        self,
        key: tuple[str, str],
        kind: DriftKind,
        name: str,
        detail: str,
        record_key: str,
        now: datetime,
    ) -> None:
        npo_id, stream = key
        findings = self._findings.setdefault(npo_id, {})
        slot = (stream, kind, name)
        before = findings.get(slot)
        if before is None:
            if len(findings) >= MAX_FINDINGS:
                return
            self._on_drift(kind)
            findings[slot] = DriftFinding(
                stream=stream,
                kind=kind,
                field=name,
                detail=detail,
                first_record_key=record_key,
                first_seen_at=now,
            )
        else:
            findings[slot] = before.model_copy(update={"records": before.records + 1})

    def _forget(self, key: tuple[str, str]) -> None:
        npo_id, stream = key
        findings = self._findings.get(npo_id, {})
        for slot in [slot for slot in findings if slot[0] == stream]:
            del findings[slot]
        if not findings:
            self._findings.pop(npo_id, None)

    def of_npo(self, npo_id: str) -> list[DriftFinding]:
        """The NPO's findings, first seen first."""
        return sorted(self._findings.get(npo_id, {}).values(), key=lambda f: f.first_seen_at)

    def drifting_streams(self) -> int:
        """NPO streams with a finding."""
        return len({(npo_id, slot[0]) for npo_id, f in self._findings.items() for slot in f})


__all__ = ["DriftFinding", "ShapeWatch", "mapping_reads", "shape_of"]
