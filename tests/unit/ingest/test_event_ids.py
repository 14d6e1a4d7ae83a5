"""Event ids: one per change of a record (content that comes back is a new change), the same
when that change is published again after a crash, a failed send or a re-drive."""

from __future__ import annotations

import uuid

import pytest

from npo_integration.ingest.identity import change_event_id, event_id_for
from npo_integration.models.codec import decode
from npo_integration.models.state import RecordState
from tests.unit.ingest.conftest import Crash, Harness
from tests.unit.ingest.test_ingestor import linked

OFFERINGS = "offerings"
UPDATES = "assignment-updated"
KEY = "acme/offerings/1"


def offering(title: str) -> dict[str, object]:
    return {"id": 1, "title": title}


def ids(h: Harness, topic: str = OFFERINGS) -> list[str]:
    return [e["event_id"] for e in h.log.events(topic)]


async def history(h: Harness, titles: list[str]) -> list[str]:
    """Each title fetched in turn, each published; the ids of the events."""
    for title in titles:
        assert (await h.ingest(h.raw(offering(title)))).status == "published"
    return ids(h)


async def test_content_that_comes_back_is_a_new_change_with_a_new_id(harness: Harness) -> None:
    h = harness
    published = await history(h, ["A", "B", "A", "B"])
    assert len(set(published)) == 4
    assert [e["event_type"] for e in h.log.events(OFFERINGS)] == [
        "npo_offering.created",
        "npo_offering.updated",
        "npo_offering.updated",
        "npo_offering.updated",
    ]
    assert [e["offering"]["title"] for e in h.log.events(OFFERINGS)] == ["A", "B", "A", "B"]
    assert (await h.ingest(h.raw(offering("B")))).status == "unchanged"  # a refetch is nothing
    assert h.states.get(KEY).changes == 4  # type: ignore[union-attr]


async def test_ids_depend_on_the_history_alone(harness: Harness) -> None:
    """Another worker (or a replay from the changelog) replaying the same changes makes the same
    ids."""
    first = await history(harness, ["A", "B", "A"])
    other = Harness()
    try:
        assert await history(other, ["A", "B", "A"]) == first
    finally:
        other.runner.shutdown()


async def test_a_change_sent_before_a_crash_is_recognised_by_its_id(harness: Harness) -> None:
    h = harness
    await history(h, ["A", "B"])
    again_a = h.raw(offering("A"))
    h.log.crash_after_send = True
    with pytest.raises(Crash):
        await h.ingest(again_a)
    h.log.crash_after_send = False
    h.restart()  # the processed flag of the third A was never acknowledged
    outcome = await h.ingest(again_a)  # delivered again: its offset was not committed
    assert outcome.status == "already_published"
    assert outcome.event_id == ids(h)[-1] and len(ids(h)) == 3
    assert (await h.ingest(h.raw(offering("B")))).status == "published"
    assert len(set(ids(h))) == 4


async def test_a_change_not_sent_before_a_crash_gets_the_id_its_intent_holds(
    harness: Harness,
) -> None:
    h = harness
    await history(h, ["A", "B"])
    again_a = h.raw(offering("A"))
    h.log.crash_before_send = True
    with pytest.raises(Crash):
        await h.ingest(again_a)
    h.log.crash_before_send = False
    [intended] = h.pending.durable[h.partition_of(again_a)].items
    h.restart()
    outcome = await h.ingest(again_a)
    assert outcome.status == "published" and outcome.event_id == intended.intent.event_id
    assert ids(h)[-1] == intended.intent.event_id and len(set(ids(h))) == 3


@pytest.mark.parametrize("sent", [False, True], ids=["lost", "sent-but-unacknowledged"])
async def test_a_failed_send_is_published_again_or_found_under_the_same_id(
    harness: Harness, sent: bool
) -> None:
    h = harness
    await history(h, ["A", "B"])
    again_a = h.raw(offering("A"))
    failure = TimeoutError("broker slow")
    if sent:
        h.log.lose_acks = failure
    else:
        h.log.fail_send = failure
    assert (await h.ingest(again_a)).status == "failed"
    h.log.fail_send = h.log.lose_acks = None
    intent = h.states.get(KEY).intent  # type: ignore[union-attr]
    assert intent is not None and intent.change == 3
    redriven = await h.ingest(h.unprocessed.get(KEY).raw)  # type: ignore[union-attr]
    assert redriven.status == ("already_published" if sent else "published")
    assert redriven.event_id == intent.event_id
    assert ids(h).count(intent.event_id) == 1 and len(ids(h)) == 3
    assert (await h.ingest(h.raw(offering("B")))).status == "published"
    assert len(set(ids(h))) == 4


async def test_a_redriven_record_gets_the_id_it_would_have_had(harness: Harness) -> None:
    h = harness
    await history(h, ["A", "B"])
    h.plugin.broken = ValueError("mapping points at the wrong field")
    assert (await h.ingest(h.raw(offering("A")))).status == "failed"
    assert (await h.ingest(h.unprocessed.get(KEY).raw)).status == "failed"  # type: ignore[union-attr]
    h.plugin.broken = None
    await h.ingest(h.unprocessed.get(KEY).raw)  # type: ignore[union-attr]
    clean = Harness()
    try:
        assert ids(h) == await history(clean, ["A", "B", "A"])
    finally:
        clean.runner.shutdown()


async def test_a_record_without_an_event_does_not_take_a_number(harness: Harness) -> None:
    h = harness
    assert (await h.ingest(h.raw({"id": 1, "site": True}))).status == "skipped"
    await history(h, ["A"])
    assert h.states.get(KEY).changes == 1  # type: ignore[union-attr]


async def test_a_published_record_the_mapping_now_skips_is_removed_as_a_change(
    harness: Harness,
) -> None:
    h = harness
    await history(h, ["A"])
    assert (await h.ingest(h.raw({"id": 1, "site": True}))).status == "published"
    assert (await h.ingest(h.raw({"id": 1, "site": True}))).status == "unchanged"
    await history(h, ["B"])
    assert h.states.get(KEY).changes == 3  # type: ignore[union-attr]


async def test_progress_that_comes_back_is_a_new_change(harness: Harness) -> None:
    h = harness
    h.links["acme/ref:enr-1"] = linked("asg-1", course="c-1", npo_enrolment_ref="enr-1")
    for state in ["in_progress", "completed", "in_progress", "completed"]:
        record = {"id": "p1", "enr": "enr-1", "state": state}
        assert (await h.ingest(h.raw(record, stream="assignments"))).status == "published"
    assert len(set(ids(h, UPDATES))) == 4


async def test_a_state_stored_before_changes_were_numbered_goes_on_from_it(
    harness: Harness,
) -> None:
    h = harness
    await history(h, ["A"])
    stored = h.states.get(KEY)
    assert stored is not None
    written_before = stored.model_dump_json(exclude={"changes"}).encode()  # by an older worker
    h.states.local[KEY] = old = decode(RecordState, written_before)
    assert old.changes == 0  # a missing number reads as no numbered change yet
    published = await history(h, ["B", "A"])
    assert len(set(published)) == 3
    unnumbered = {  # the ids the older workers gave these contents
        event_id_for(KEY, h.raw(offering(title)).content_hash, "npo_offering.updated")
        for title in "AB"
    }
    assert not unnumbered & set(published[1:])
    assert h.states.get(KEY).changes == 2  # type: ignore[union-attr]


def test_ids_are_the_uuid5_of_what_they_derive_from() -> None:
    """Ids already published must not change: the ids made without ``uuid.UUID`` are its text."""
    changes = uuid.UUID("6c6fd213-ed13-40ed-b2b3-dab2c4a51df8")
    before = uuid.UUID("6f1c1a52-5d0e-4f0e-9a37-0e4e7f0e2a11")
    for key in (KEY, "café/offerings/ü-1", "n/progress/" + "x" * 500, ""):
        name = f"npo_offering.updated|{key}|7|{'ab' * 32}"
        assert change_event_id(key, 7, "ab" * 32, "npo_offering.updated") == str(
            uuid.uuid5(changes, name)
        )
        assert event_id_for(key, "cd", "npo_offering.created") == str(
            uuid.uuid5(before, f"npo_offering.created|{key}|cd")
        )
