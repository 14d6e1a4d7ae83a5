"""Removals: a complete sweep's absences, a mapping that now filters a record out, the guard."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from npo_integration.ingest.removals import (
    LiveRecords,
    SweepTracker,
    plan_sweep,
    removal_record,
)
from npo_integration.models.internal import SweepCompleted
from npo_integration.models.state import RecordState, RemovalHold
from tests.unit.ingest.conftest import Harness
from tests.unit.ingest.test_ingestor import linked

OFFERINGS = "offerings"
UPDATES = "assignment-updated"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def marker(records: int, trace: str = "sweep-2") -> SweepCompleted:
    return SweepCompleted(npo_id="acme", stream="offerings", trace_id=trace, records=records)


def live(*ids: int) -> list[RecordState]:
    return [
        RecordState(
            record_key=f"acme/offerings/{i}",
            npo_id="acme",
            stream="offerings",
            content_hash="h",
            published_key=f"acme/{i}",
        )
        for i in ids
    ]


def keys(*ids: int) -> set[str]:
    return {f"acme/offerings/{i}" for i in ids}


def test_absent_records_of_a_complete_sweep_are_removed() -> None:
    plan = plan_sweep(
        marker(3),
        keys(1, 2, 3),
        LiveRecords.of(live(1, 2, 3, 4), keys(1, 2, 3)),
        None,
        hold_share=0.5,
        now=NOW,
    )
    assert plan is not None and [s.record_key for s in plan.remove] == ["acme/offerings/4"]
    assert plan.hold is None and not plan.clear_hold


def test_a_sweep_not_seen_whole_here_decides_nothing() -> None:
    assert (
        plan_sweep(
            marker(3),
            keys(1, 2),
            LiveRecords.of(live(1, 2, 3, 4), keys(1, 2)),
            None,
            hold_share=0.5,
            now=NOW,
        )
        is None
    )


def test_more_than_the_share_or_an_empty_answer_is_held() -> None:
    plan = plan_sweep(
        marker(1), keys(1), LiveRecords.of(live(1, 2, 3), keys(1)), None, hold_share=0.5, now=NOW
    )
    assert plan is not None and not plan.remove and plan.hold is not None
    assert (plan.hold.published, plan.hold.seen, plan.hold.would_remove) == (3, 1, 2)
    empty = plan_sweep(
        marker(0), set(), LiveRecords.of(live(1, 2, 3, 4, 5), set()), None, hold_share=0.9, now=NOW
    )
    assert empty is not None and empty.hold is not None and not empty.remove


def test_a_confirmed_hold_lets_the_next_sweep_remove_and_a_good_sweep_clears_it() -> None:
    hold = RemovalHold(
        npo_id="acme",
        stream="offerings",
        trace_id="t",
        held_at=NOW,
        published=3,
        seen=0,
        would_remove=3,
    )
    back = plan_sweep(
        marker(3),
        keys(1, 2, 3),
        LiveRecords.of(live(1, 2, 3), keys(1, 2, 3)),
        hold,
        hold_share=0.5,
        now=NOW,
    )
    assert back is not None and back.clear_hold and not back.remove and back.hold is None
    still = plan_sweep(
        marker(0), set(), LiveRecords.of(live(1, 2, 3), set()), hold, hold_share=0.5, now=NOW
    )
    assert still is not None and still.hold is not None  # held again, with fresh counts
    confirmed = hold.model_copy(update={"confirmed_at": NOW})
    go = plan_sweep(
        marker(0), set(), LiveRecords.of(live(1, 2, 3), set()), confirmed, hold_share=0.5, now=NOW
    )
    assert go is not None and len(go.remove) == 3 and go.clear_hold


def test_the_tracker_follows_the_latest_sweep_of_a_stream() -> None:
    tracker = SweepTracker()
    stream = ("acme", "offerings")
    later = NOW + timedelta(minutes=5)
    tracker.saw(stream, "t1", NOW, ["a", "b"])  # a sweep that failed: no marker comes
    tracker.saw(stream, "t2", later, ["b"])
    tracker.saw(stream, "t1", NOW, ["c"])  # a re-driven record of the old sweep: not counted
    tracker.saw(stream, "t2", later, ["c", "b"])
    assert tracker.close(stream, "t1") == set()
    assert tracker.close(stream, "t2") == {"b", "c"}
    assert tracker.close(stream, "t2") == set()


async def test_an_absent_offering_is_removed_once_and_comes_back_as_created(
    harness: Harness,
) -> None:
    h = harness
    assert (await h.ingest(h.raw({"id": 1, "title": "A"}))).status == "published"
    state = h.states.get("acme/offerings/1")
    assert state is not None and state.live
    h.clock.advance(1)
    gone = removal_record(state, marker(0).model_copy(update={"completed_at": h.clock.now}))
    assert "acme/offerings/1" in h.payloads.data
    assert (await h.ingest(gone)).status == "published"
    assert "acme/offerings/1" not in h.payloads.data  # gone from the NPO: nothing to replay
    assert (await h.ingest(gone)).status == "unchanged"  # a re-processed marker: no second event
    assert (await h.ingest(h.raw({"id": 1, "title": "A"}))).status == "published"
    events = h.log.events(OFFERINGS)
    assert [e["event_type"] for e in events] == [
        "npo_offering.created",
        "npo_offering.removed",
        "npo_offering.created",
    ]
    assert events[1]["npo_offering_ref"] == "1" and events[1]["reason"] == "absent"
    assert len({e["event_id"] for e in events}) == 3
    assert h.log.keys(OFFERINGS) == ["acme/1"] * 3


async def test_a_record_filtered_out_after_it_was_published_is_removed(harness: Harness) -> None:
    h = harness
    await h.ingest(h.raw({"id": 1, "title": "A"}))
    assert (await h.ingest(h.raw({"id": 1, "site": True}))).status == "published"
    removed = h.log.events(OFFERINGS)[-1]
    assert removed["event_type"] == "npo_offering.removed" and removed["reason"] == "filtered"
    state = h.states.get("acme/offerings/1")
    assert state is not None and not state.live  # an absence later removes nothing more


async def test_a_record_never_published_is_not_removed(harness: Harness) -> None:
    h = harness
    assert (await h.ingest(h.raw({"id": 1, "site": True}))).status == "skipped"
    assert h.log.events(OFFERINGS) == []


async def test_a_vanished_enrolment_is_withdrawn(harness: Harness) -> None:
    h = harness
    h.links["acme/ref:enr-1"] = linked("asg-1", course="c-1", npo_enrolment_ref="enr-1")
    record = {"id": "p1", "enr": "enr-1", "state": "in_progress"}
    assert (await h.ingest(h.raw(record, stream="assignments"))).status == "published"
    state = h.states.get("acme/assignments/p1")
    assert state is not None and state.published_key == "asg-1"
    h.clock.advance(1)
    gone = removal_record(state, marker(0).model_copy(update={"completed_at": h.clock.now}))
    assert (await h.ingest(gone)).status == "published"
    last = h.log.events(UPDATES)[-1]
    assert (last["assignment_id"], last["status"]) == ("asg-1", "withdrawn")


async def test_a_removal_found_sent_after_a_crash_counts_as_removed(harness: Harness) -> None:
    h = harness
    await h.ingest(h.raw({"id": 1, "title": "A"}))
    h.log.lose_acks = TimeoutError("no answer")  # the broker has it, the worker never hears
    assert (await h.ingest(h.raw({"id": 1, "site": True}))).status == "failed"
    h.log.lose_acks = None
    assert (await h.ingest(h.raw({"id": 1, "site": True}))).status == "already_published"
    state = h.states.get("acme/offerings/1")
    assert state is not None and not state.live


def test_a_stored_states_liveness_read_from_its_bytes_is_what_decoding_says() -> None:
    """``RecordStates.live`` counts seen records from their bytes where they say it plainly: the
    patterns must match what ``encode`` writes, for each way a state can be (or not be) live."""
    from npo_integration.models.codec import encode
    from npo_integration.models.state import live_in_bytes

    (published,) = live(1)
    states = [
        published,
        published.model_copy(update={"published_key": None}),
        published.model_copy(update={"removed_at": NOW}),
        published.model_copy(update={"published_key": None, "removed_at": NOW}),
    ]
    for state in states:  # right, or unsure (then the state is decoded)
        said = live_in_bytes(encode(state))
        assert said is None or said is state.live
    assert live_in_bytes(encode(published)) is True  # the steady sweep's case: no decoding
