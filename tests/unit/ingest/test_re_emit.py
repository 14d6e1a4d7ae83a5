"""A re-emit (``fetch --re-emit``): every record of its pull becomes one new event, unchanged or
not, exactly once per re-emit, crashes and redeliveries included."""

from __future__ import annotations

from typing import Any

import pytest

from npo_integration.models.internal import RawRecord
from tests.unit.ingest.conftest import Crash, Harness

OFFERINGS = "offerings"


def re_emitted(h: Harness, record: dict[str, Any], trace: str) -> RawRecord:
    return h.raw(record).model_copy(update={"re_emit": True, "trace_id": trace})


async def test_each_re_emit_publishes_every_record_once_with_a_new_event_id(
    harness: Harness,
) -> None:
    h = harness
    first = await h.ingest(h.raw({"id": 1, "title": "A"}))
    assert (await h.ingest(h.raw({"id": 1, "title": "A"}))).status == "unchanged"
    again = await h.ingest(re_emitted(h, {"id": 1, "title": "A"}, "re-1"))
    assert again.status == "published" and again.event_id != first.event_id
    # the same re-emit's copy (a redelivered page, a record on two pages) is nothing new
    assert (await h.ingest(re_emitted(h, {"id": 1, "title": "A"}, "re-1"))).status == "unchanged"
    # a normal pull after it: unchanged content, no event
    assert (await h.ingest(h.raw({"id": 1, "title": "A"}))).status == "unchanged"
    third = await h.ingest(re_emitted(h, {"id": 1, "title": "A"}, "re-2"))
    assert third.status == "published"
    events = h.log.events(OFFERINGS)
    assert [e["event_type"] for e in events] == [
        "npo_offering.created",
        "npo_offering.updated",
        "npo_offering.updated",
    ]
    assert len({e["event_id"] for e in events}) == 3
    assert [e["offering"]["title"] for e in events] == ["A", "A", "A"]


async def test_a_re_emit_of_a_new_record_is_its_creation(harness: Harness) -> None:
    h = harness
    outcome = await h.ingest(re_emitted(h, {"id": 5, "title": "New"}, "re-1"))
    assert outcome.status == "published"
    assert [e["event_type"] for e in h.log.events(OFFERINGS)] == ["npo_offering.created"]


async def test_a_crash_after_a_re_emits_send_does_not_publish_it_twice(harness: Harness) -> None:
    h = harness
    await h.ingest(h.raw({"id": 9, "title": "T"}))
    raw = re_emitted(h, {"id": 9, "title": "T"}, "re-1")
    h.log.crash_after_send = True
    with pytest.raises(Crash):
        await h.ingest(raw)
    h.log.crash_after_send = False
    h.restart()
    assert (await h.ingest(raw)).status == "already_published"  # the page delivered again
    assert (await h.ingest(raw)).status == "unchanged"
    assert len(h.log.events(OFFERINGS)) == 2


async def test_a_failed_re_emit_send_is_checked_then_counted_once(harness: Harness) -> None:
    h = harness
    await h.ingest(h.raw({"id": 3, "title": "T"}))
    raw = re_emitted(h, {"id": 3, "title": "T"}, "re-1")
    h.log.lose_acks = TimeoutError("acks lost")  # the broker has it; the send reports a failure
    assert (await h.ingest(raw)).status == "failed"
    h.log.lose_acks = None
    assert (await h.ingest(raw)).status == "already_published"
    assert len(h.log.events(OFFERINGS)) == 2


async def test_a_failing_re_emit_record_keeps_its_flag_for_the_redrive(harness: Harness) -> None:
    h = harness
    await h.ingest(h.raw({"id": 4, "title": "T"}))
    h.plugin.broken = ValueError("mapping broken")
    raw = re_emitted(h, {"id": 4, "title": "T"}, "re-1")
    assert (await h.ingest(raw)).status == "failed"
    kept = h.unprocessed.get(raw.record_key)
    assert kept is not None and kept.raw.re_emit and kept.raw.trace_id == "re-1"
    h.plugin.broken = None
    assert (await h.ingest(kept.raw)).status == "published"
    assert len(h.log.events(OFFERINGS)) == 2
