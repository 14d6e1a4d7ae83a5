"""The comparison behind ``npos diff``: per kept record the current and the new transform's
outcome, sorted into changed (with the fields that differ), newly failing, newly passing, newly
filtered and newly included; and what an apply would re-emit."""

from __future__ import annotations

from typing import Any

from npo_integration.models.state import KeptPayload
from npo_integration.registry.replay import Kept, Result, compare
from npo_integration.transforms.contract import TransformError
from tests.unit.ingest.conftest import T0


def kept(n: int) -> Kept:
    return Kept(f"acme/offerings/{n}", KeptPayload(content_hash=f"h{n}", fetched_at=T0, payload={}))


def offering(title: str, status: str = "open") -> dict[str, Any]:
    return {"npo_offering_ref": "x", "title": title, "status": status}


def run(pairs: list[tuple[Result, Result]], examples: int = 2) -> Any:
    records = [kept(n) for n in range(len(pairs))]
    ids = [str(n) for n in range(len(pairs))]
    return compare(
        "offerings",
        "offerings",
        records,
        ids,
        [old for old, _ in pairs],
        [new for _, new in pairs],
        examples=examples,
    )


def test_one_changed_field_is_named_counted_and_shown_and_only_changed_records_re_emit() -> None:
    pairs: list[tuple[Result, Result]] = [
        (offering("A"), offering("Course: A")),
        (offering("B"), offering("Course: B")),
        (offering("C"), offering("Course: C")),
        (None, None),
    ]
    diff, re_emit = run(pairs)
    assert (diff.records, diff.changed, diff.unchanged, diff.events_changed) == (4, 3, 1, 3)
    assert [(f.field, f.records) for f in diff.fields] == [("title", 3)]
    assert len(diff.examples) == 2
    assert diff.examples[0].changes == {"title": ("A", "Course: A")}
    assert [r.record_key for r in re_emit] == [f"acme/offerings/{n}" for n in range(3)]
    assert diff.newly_failing == [] and diff.newly_passing == []


def test_records_that_break_are_listed_with_the_new_error_and_do_not_re_emit() -> None:
    error = TransformError("value 'closed' is not in map", field="offering.status", path="status")
    pairs: list[tuple[Result, Result]] = [
        (offering("A"), offering("A")),
        (offering("B", "closed"), error),
        (TransformError("old"), TransformError("older")),
    ]
    diff, re_emit = run(pairs)
    [failing] = diff.newly_failing
    assert (failing.record_key, failing.record_id, failing.field, failing.path) == (
        "acme/offerings/1",
        "1",
        "offering.status",
        "status",
    )
    assert failing.error == "value 'closed' is not in map"
    assert (diff.newly_failing_count, diff.still_failing, diff.events_changed) == (1, 1, 0)
    assert re_emit == []


def test_passing_filtered_and_included_records_change_events_and_personal_fields_are_hidden() -> (
    None
):
    pairs: list[tuple[Result, Result]] = [
        (TransformError("missing title", field="offering.title"), offering("A")),
        (offering("B"), None),
        (None, offering("C")),
        (
            {"status": "started", "npo_user_ref": "ann@example.org"},
            {"status": "completed", "npo_user_ref": "ann@example.org"},
        ),
        (
            {"status": "started", "npo_user_ref": "a@x"},
            {"status": "started", "npo_user_ref": "b@x"},
        ),
    ]
    diff, re_emit = run(pairs, examples=5)
    assert [p.record_key for p in diff.newly_passing] == ["acme/offerings/0"]
    assert diff.newly_passing[0].error == "missing title"  # why it failed before
    assert diff.newly_filtered == ["acme/offerings/1"]
    assert diff.newly_included == ["acme/offerings/2"]
    assert diff.events_changed == len(re_emit) == 5
    assert {f.field: f.records for f in diff.fields} == {"status": 1, "npo_user_ref": 1}
    assert diff.examples[1].changes == {"npo_user_ref": ("***", "***")}
    assert "ann@example.org" not in diff.model_dump_json()
