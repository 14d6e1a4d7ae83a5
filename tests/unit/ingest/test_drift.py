"""Schema drift: a stream's records change shape (a read field gone or of another kind, a new
field in most records), flagged with the first record that showed it, before dead letters pile
up; and the offering contents ingestion keeps for replays."""

from __future__ import annotations

from typing import Any

from npo_integration.ingest.drift import ShapeWatch, mapping_reads, shape_of
from npo_integration.models.codec import decode, encode
from npo_integration.models.internal import RawRecord
from npo_integration.models.state import KeptPayload, kept_bytes
from npo_integration.pull.raw import raw_record
from npo_integration.transforms.declarative.spec import DeclarativeMapping
from tests.unit.ingest.conftest import T0, Harness

READS = frozenset({"id", "title"})


def records(start: int, count: int, **shape: Any) -> list[RawRecord]:
    """``count`` offering records of NPO acme, ids from ``start``, fields from ``shape``."""
    made = []
    for n in range(start, start + count):
        record = {"id": n, **{k: (v(n) if callable(v) else v) for k, v in shape.items()}}
        made.append(raw_record("acme", "offerings", str(n), record, "trace"))
    return made


def watch(reads: frozenset[str] | None = READS) -> ShapeWatch:
    return ShapeWatch(lambda npo_id, stream: reads)


def test_a_renamed_field_is_flagged_missing_at_its_first_record_then_new_in_most() -> None:
    seen: list[str] = []
    shapes = ShapeWatch(lambda n, s: READS, on_drift=seen.append)
    shapes.observe(records(0, 20, title=lambda n: f"T{n}", seats=5), T0)
    assert shapes.of_npo("acme") == []
    shapes.observe(records(20, 25, name=lambda n: f"T{n}", seats=5), T0)
    findings = {(f.kind, f.field): f for f in shapes.of_npo("acme")}
    missing = findings[("missing", "title")]
    assert missing.first_record_key == "acme/offerings/20"
    assert missing.records == 25 and missing.stream == "offerings"
    assert findings[("new_field", "name")].detail.startswith("field 'name' is new")
    assert sorted(seen) == ["missing", "new_field"]  # the metric counts each finding once
    assert shapes.drifting_streams() == 1


def test_a_read_field_of_another_kind_is_flagged_and_an_unread_ones_change_is_not() -> None:
    shapes = watch()
    shapes.observe(records(0, 20, title="T", seats=5), T0)
    shapes.observe(records(20, 3, title="T", seats="five"), T0)  # seats is not read
    assert shapes.of_npo("acme") == []
    shapes.observe(records(23, 1, title=7, seats=5), T0)
    [finding] = shapes.of_npo("acme")
    assert (finding.kind, finding.field, finding.first_record_key) == (
        "type",
        "title",
        "acme/offerings/23",
    )
    assert finding.detail == "field 'title' is number, was str"


def test_optional_fields_and_nulls_are_not_drift() -> None:
    shapes = watch(reads=None)  # a plug-in: every field counts as read
    shapes.observe(records(0, 10, title="T", note="x") + records(10, 10, title="T"), T0)
    shapes.observe(records(20, 5, title=None), T0)  # null is no kind; note was not always there
    shapes.observe(records(25, 5, title="T", score=1.5), T0)  # score: in 5 of a window of 20
    assert shapes.of_npo("acme") == []


def test_a_config_reading_other_fields_relearns_and_drops_its_streams_findings() -> None:
    reads = {"now": READS}
    shapes = ShapeWatch(lambda n, s: reads["now"])
    shapes.observe(records(0, 20, title="T"), T0)
    shapes.observe(records(20, 1, name="T"), T0)
    assert [f.field for f in shapes.of_npo("acme")] == ["title"]
    reads["now"] = frozenset({"id", "name"})  # the operator mapped the new field
    shapes.observe(records(21, 1, name="T"), T0)
    assert shapes.of_npo("acme") == []


def test_the_fields_a_declarative_mapping_reads_are_its_paths_templates_and_filters() -> None:
    mapping = DeclarativeMapping.model_validate(
        {
            "offering": {
                "filter": [{"path": "visible", "equals": 1}],
                "fields": {
                    "npo_offering_ref": "id",
                    "title": {"template": "{name} ({details.code})"},
                    "status": {"const": "open"},
                    "capacity": {"path": "details.seats", "type": "int"},
                },
            }
        }
    )
    assert mapping_reads(mapping, "offerings") == {"visible", "id", "name", "details"}
    assert mapping_reads(mapping, "progress") == frozenset()
    assert shape_of({"a": 1, "b": [1], "c": {"d": 1}, "e": True}) == (
        ("a", "number"),
        ("b", "array"),
        ("c", "object"),
        ("e", "bool"),
    )
    assert shape_of([1, 2]) is None


async def test_ingestion_shows_changed_records_to_the_watch_and_keeps_offering_contents(
    harness: Harness,
) -> None:
    h = harness
    h.shapes = watch(reads=None)
    h.ingestor = h.build()
    await h.ingest_all([h.raw({"id": n, "title": f"T{n}"}) for n in range(20)])
    # unchanged re-fetches are not shown again (a baseline of 20 already learned from them)
    await h.ingest_all([h.raw({"id": n, "title": f"T{n}"}) for n in range(20)])
    assert h.shapes.of_npo("acme") == []
    broken = await h.ingest(h.raw({"id": 3, "name": "T3"}))  # a rename: the plug-in fails
    assert broken.status == "failed"
    [finding] = [f for f in h.shapes.of_npo("acme") if f.kind == "missing"]
    assert finding.first_record_key == "acme/offerings/3"
    # kept: every offering record's last content, the failed one's too (a replay shows it pass)
    assert len(h.payloads.data) == 20
    assert h.payloads.data["acme/offerings/3"][1] == {"id": 3, "name": "T3"}
    await h.ingest(h.raw({"id": 1, "enr": "e1", "user": "u", "course": "c"}, stream="assignments"))
    assert "acme/assignments/1" not in h.payloads.data  # progress records quote candidates
    filtered = await h.ingest(h.raw({"id": 30, "site": True, "title": "x"}))
    assert filtered.status == "skipped" and "acme/offerings/30" in h.payloads.data


def test_kept_contents_are_written_as_the_model_encodes_them() -> None:
    payload = {"id": 1, "name": "Café \u2603", "details": {"seats": 3.5, "tags": [None, True]}}
    written = kept_bytes("h1", T0, payload)
    model = KeptPayload(content_hash="h1", fetched_at=T0, payload=payload)
    assert decode(KeptPayload, written) == model
    assert written == encode(model)


def test_an_npos_findings_are_capped() -> None:
    shapes = watch(reads=None)
    shapes.observe(records(0, 20, title="T"), T0)
    free_form = [
        raw_record("acme", "offerings", str(n), {"id": n, "title": "T", f"k{n // 20}": 1}, "t")
        for n in range(20, 20 + 30 * 20)
    ]
    shapes.observe(free_form, T0)
    assert len(shapes.of_npo("acme")) == 20  # 30 fields each new in a whole window
