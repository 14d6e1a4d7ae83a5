"""Records through the ingestion path, with fakes: created/updated/unchanged, progress,
failures, crashes, batches."""

from __future__ import annotations

from datetime import timedelta

import pytest

from npo_integration import tracing
from npo_integration.models.internal import EnrolmentLink
from tests.unit.ingest.conftest import Crash, Harness

OFFERINGS = "offerings"
UPDATES = "assignment-updated"


async def test_first_sight_is_created_a_change_is_updated_and_a_refetch_is_nothing(
    harness: Harness,
) -> None:
    h = harness
    first = await h.ingest(h.raw({"id": 101, "title": "Intro"}))
    again = await h.ingest(h.raw({"id": 101, "title": "Intro"}))
    changed = await h.ingest(h.raw({"id": 101, "title": "Intro to Python"}))
    assert [first.status, again.status, changed.status] == ["published", "unchanged", "published"]
    events = h.log.events(OFFERINGS)
    assert [e["event_type"] for e in events] == ["npo_offering.created", "npo_offering.updated"]
    assert [e["offering"]["title"] for e in events] == ["Intro", "Intro to Python"]
    assert h.log.keys(OFFERINGS) == ["acme/101", "acme/101"]
    assert events[0]["event_id"] == first.event_id and events[1]["event_id"] == changed.event_id
    state = h.states.get("acme/offerings/101")
    assert state is not None and state.processed and state.intent is None
    assert h.pending.durable_writes == 2  # one durable batch of intents per publish


async def test_a_record_that_is_not_an_offering_is_processed_without_an_event(
    harness: Harness,
) -> None:
    outcome = await harness.ingest(harness.raw({"id": 1, "site": True}))
    assert outcome.status == "skipped" and harness.log.events(OFFERINGS) == []
    assert harness.states.get("acme/offerings/1").processed  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"id": 7}, "KeyError"),  # the plug-in raised
        ({"id": 7, "title": ""}, "title"),  # invalid output: an Offering needs a title
        ({"id": 7, "title": 42}, "title"),  # wrong type
    ],
)
async def test_a_failing_record_is_dead_lettered_once_and_kept_for_a_redrive(
    harness: Harness, record: dict, reason: str
) -> None:
    h = harness
    raw = h.raw(record)
    outcome = await h.ingest(raw)
    assert outcome.status == "failed" and reason in (outcome.reason or "")
    assert [(r.record_key, r.payload) for r, _ in h.dead_letters] == [("acme/offerings/7", record)]
    entry = h.unprocessed.get("acme/offerings/7")
    assert entry is not None and entry.raw == raw and entry.attempts == 1
    assert entry.next_attempt_at == h.clock.now + timedelta(seconds=h.retry.delay(1))
    await h.ingest(raw)  # the re-drive fails the same way: no second dead letter
    assert len(h.dead_letters) == 1
    assert h.unprocessed.get("acme/offerings/7").attempts == 2  # type: ignore[union-attr]
    assert h.log.events(OFFERINGS) == []


async def test_after_a_fix_the_redriven_record_becomes_its_event_and_leaves_the_unprocessed_list(
    harness: Harness,
) -> None:
    h = harness
    h.plugin.broken = ValueError("mapping points at the wrong field")
    raw = h.raw({"id": 5, "title": "Mentoring"})
    assert (await h.ingest(raw)).status == "failed"
    assert "ValueError: mapping points at the wrong field" in h.dead_letters[0][1]
    h.plugin.broken = None
    entry = h.unprocessed.get(raw.record_key)
    assert entry is not None
    assert (await h.ingest(entry.raw)).status == "published"
    assert [e["event_type"] for e in h.log.events(OFFERINGS)] == ["npo_offering.created"]
    assert h.unprocessed.get(raw.record_key) is None


async def test_a_failure_of_a_changed_record_keeps_it_an_update(harness: Harness) -> None:
    h = harness
    await h.ingest(h.raw({"id": 5, "title": "A"}))
    h.plugin.broken = ValueError("x")
    await h.ingest(h.raw({"id": 5, "title": "B"}))
    h.plugin.broken = None
    entry = h.unprocessed.get("acme/offerings/5")
    await h.ingest(entry.raw)  # type: ignore[union-attr]
    assert [e["event_type"] for e in h.log.events(OFFERINGS)] == [
        "npo_offering.created",
        "npo_offering.updated",
    ]


async def test_a_stale_redrive_overtaken_by_a_newer_fetch_is_ignored(harness: Harness) -> None:
    h = harness
    h.plugin.broken = ValueError("x")
    old = h.raw({"id": 5, "title": "A"})
    await h.ingest(old)
    h.plugin.broken = None
    await h.ingest(h.raw({"id": 5, "title": "B"}))  # a newer fetch succeeds first
    assert (await h.ingest(old)).status == "stale"
    assert [e["offering"]["title"] for e in h.log.events(OFFERINGS)] == ["B"]


def linked(assignment: str, **refs: str) -> EnrolmentLink:
    return EnrolmentLink(
        npo_id="acme",
        assignment_id=assignment,
        candidate_id="cand-1",
        npo_offering_ref=refs.pop("course"),
        **refs,
    )


async def test_progress_finds_its_assignment_by_enrolment_id_or_by_user_and_offering(
    harness: Harness,
) -> None:
    h = harness
    h.links["acme/ref:enr-1"] = linked("asg-1", course="c-1", npo_enrolment_ref="enr-1")
    h.links["acme/user:u-2/offering:c-2"] = linked("asg-2", course="c-2", npo_user_ref="u-2")
    by_ref = h.raw(
        {"id": "p1", "enr": "enr-1", "user": "u-1", "course": "c-1", "progress": 0.5},
        stream="assignments",
    )
    by_user = h.raw(
        {"id": "p2", "user": "u-2", "course": "c-2", "state": "completed"}, stream="assignments"
    )
    assert (await h.ingest(by_ref)).status == "published"
    assert (await h.ingest(by_user)).status == "published"
    events = h.log.events(UPDATES)
    assert [(e["assignment_id"], e["status"], e["progress"]) for e in events] == [
        ("asg-1", "in_progress", 0.5),
        ("asg-2", "completed", None),
    ]
    assert h.log.keys(UPDATES) == ["asg-1", "asg-2"]
    assert all(
        e["event_type"] == "candidate_assignment.updated" and e["npo_id"] == "acme" for e in events
    )


async def test_progress_without_a_link_waits_for_one(harness: Harness) -> None:
    h = harness
    raw = h.raw({"id": "p3", "enr": "enr-3"}, stream="assignments")
    outcome = await h.ingest(raw)
    assert outcome.status == "failed" and "NoLinkError" in (outcome.reason or "")
    assert "npo_enrolment_ref='enr-3'" in h.dead_letters[0][1]
    h.links["acme/ref:enr-3"] = linked("asg-3", course="c-3", npo_enrolment_ref="enr-3")
    assert (await h.ingest(h.unprocessed.get(raw.record_key).raw)).status == "published"  # type: ignore[union-attr]
    assert [e["assignment_id"] for e in h.log.events(UPDATES)] == ["asg-3"]


async def test_progress_of_a_cancelled_enrolment_is_no_event(harness: Harness) -> None:
    h = harness
    h.links["acme/ref:enr-4"] = linked("asg-4", course="c", npo_enrolment_ref="enr-4").model_copy(
        update={"event_type": "enrolment.unlinked"}
    )
    outcome = await h.ingest(
        h.raw({"id": "p4", "enr": "enr-4", "state": "withdrawn"}, stream="assignments")
    )
    assert outcome.status == "skipped" and h.log.events(UPDATES) == []


async def test_an_unexpected_error_is_that_records_failure_not_the_streams(
    harness: Harness,
) -> None:
    h = harness

    def explode(keys: list[str]) -> None:
        raise RuntimeError("bug")

    h.ingestor._find_link = explode  # type: ignore[method-assign]
    outcome = await h.ingest(h.raw({"id": "p5", "enr": "enr-5"}, stream="assignments"))
    assert outcome.status == "failed" and "RuntimeError: bug" in (outcome.reason or "")
    assert (await h.ingest(h.raw({"id": 1, "title": "next record"}))).status == "published"


async def test_a_crash_after_the_send_does_not_publish_twice(harness: Harness) -> None:
    h = harness
    raw = h.raw({"id": 9, "title": "Sent before the crash"})
    h.log.crash_after_send = True
    with pytest.raises(Crash):
        await h.ingest(raw)
    h.log.crash_after_send = False
    h.restart()  # only the durable intents survive; the processed flag was never acknowledged
    assert (
        h.states.get(raw.record_key) is None
        and h.pending.unfinished(h.partition_of(raw), None) is not None
    )
    outcome = await h.ingest(raw)  # the source offset was not committed: delivered again
    assert outcome.status == "already_published"
    assert len(h.log.events(OFFERINGS)) == 1
    assert h.states.get(raw.record_key).processed  # type: ignore[union-attr]
    changed = await h.ingest(h.raw({"id": 9, "title": "Changed"}))
    assert changed.status == "published"
    assert [e["event_type"] for e in h.log.events(OFFERINGS)] == [
        "npo_offering.created",
        "npo_offering.updated",
    ]


async def test_a_crash_before_the_send_publishes_on_the_retry(harness: Harness) -> None:
    h = harness
    raw = h.raw({"id": 9, "title": "Never sent"})
    h.log.crash_before_send = True
    with pytest.raises(Crash):
        await h.ingest(raw)
    h.log.crash_before_send = False
    h.restart()
    assert (await h.ingest(raw)).status == "published"
    assert [e["event_type"] for e in h.log.events(OFFERINGS)] == ["npo_offering.created"]


async def test_a_crash_window_of_older_content_is_resolved_before_newer_content(
    harness: Harness,
) -> None:
    h = harness
    h.log.crash_after_send = True
    with pytest.raises(Crash):
        await h.ingest(h.raw({"id": 9, "title": "A"}))
    h.log.crash_after_send = False
    h.restart()
    await h.ingest(h.raw({"id": 9, "title": "B"}))  # the NPO changed it meanwhile
    assert [e["event_type"] for e in h.log.events(OFFERINGS)] == [
        "npo_offering.created",
        "npo_offering.updated",
    ]


async def test_a_failed_send_keeps_the_intent_and_the_retry_checks_it(harness: Harness) -> None:
    h = harness
    raw = h.raw({"id": 3, "title": "T"})
    h.log.fail_send = TimeoutError("broker slow")
    outcome = await h.ingest(raw)
    assert outcome.status == "failed" and "TimeoutError" in (outcome.reason or "")
    assert h.states.get(raw.record_key).intent is not None  # type: ignore[union-attr]
    h.log.fail_send = None
    assert (await h.ingest(raw)).status == "published"
    assert h.log.calls.count("scan") == 1 and len(h.log.events(OFFERINGS)) == 1


async def test_a_crash_window_that_cannot_be_checked_is_retried_not_published(
    harness: Harness,
) -> None:
    h = harness
    raw = h.raw({"id": 4, "title": "T"})
    h.log.crash_after_send = True
    with pytest.raises(Crash):
        await h.ingest(raw)
    h.log.crash_after_send = False
    h.restart()
    real_find = h.log.find

    async def broker_down(*args: object) -> bool:
        raise ConnectionError("broker unreachable")

    h.log.find = broker_down  # type: ignore[method-assign]
    outcome = await h.ingest(raw)
    assert outcome.status == "failed" and "ConnectionError" in (outcome.reason or "")
    assert h.pending.unfinished(h.partition_of(raw), None) is not None  # still to be checked
    assert h.unprocessed.get(raw.record_key) is not None
    h.log.find = real_find  # type: ignore[method-assign]
    assert (await h.ingest(raw)).status == "already_published"
    assert len(h.log.events(OFFERINGS)) == 1 and h.unprocessed.get(raw.record_key) is None


# --- batches -------------------------------------------------------------------------------------


async def test_a_batch_of_several_npos_publishes_once_per_record_with_one_durable_write_per_round(
    harness: Harness,
) -> None:
    h = harness
    raws = [
        h.raw({"id": n, "title": f"T{n}"}, npo_id=npo)
        for npo in ("acme", "beta", "gamma")
        for n in range(5)
    ]
    outcomes = await h.ingest_all(raws)
    assert [o.status for o in outcomes] == ["published"] * 15
    assert sorted(e["offering"]["title"] for e in h.log.events(OFFERINGS)) == sorted(
        [f"T{n}" for n in range(5)] * 3
    )
    assert h.log.calls.count("send") == 1 and h.log.calls.count("end_offsets") == 1
    again = await h.ingest_all(
        [h.raw({"id": n, "title": f"T{n}"}, npo_id="beta") for n in range(5)]
    )
    assert [o.status for o in again] == ["unchanged"] * 5 and h.log.calls.count("send") == 1


async def test_copies_of_one_record_in_a_batch_are_processed_in_order(harness: Harness) -> None:
    h = harness
    outcomes = await h.ingest_all(
        [
            h.raw({"id": 1, "title": "A"}),
            h.raw({"id": 1, "title": "A"}),
            h.raw({"id": 1, "title": "B"}),
        ]
    )
    assert [o.status for o in outcomes] == ["published", "unchanged", "published"]
    events = h.log.events(OFFERINGS)
    assert [(e["event_type"], e["offering"]["title"]) for e in events] == [
        ("npo_offering.created", "A"),
        ("npo_offering.updated", "B"),
    ]


async def test_a_crash_after_a_batch_was_sent_publishes_none_of_it_again(harness: Harness) -> None:
    h = harness
    raws = [
        h.raw({"id": n, "title": f"T{n}"}, npo_id=npo) for npo in ("acme", "beta") for n in range(4)
    ]
    h.log.crash_after_send = True
    with pytest.raises(Crash):
        await h.ingest_all(raws)
    h.log.crash_after_send = False
    h.restart()
    outcomes = await h.ingest_all(raws)  # the whole batch again: its offsets were not committed
    assert [o.status for o in outcomes] == ["already_published"] * 8
    assert len(h.log.events(OFFERINGS)) == 8
    assert [o.status for o in await h.ingest_all(raws)] == ["unchanged"] * 8


async def test_a_crash_before_a_batch_was_sent_publishes_all_of_it_on_the_retry(
    harness: Harness,
) -> None:
    h = harness
    raws = [h.raw({"id": n, "title": f"T{n}"}) for n in range(4)]
    h.log.crash_before_send = True
    with pytest.raises(Crash):
        await h.ingest_all(raws)
    h.log.crash_before_send = False
    h.restart()
    assert [o.status for o in await h.ingest_all(raws)] == ["published"] * 4
    assert len(h.log.events(OFFERINGS)) == 4


async def test_states_of_a_batch_are_durable_before_the_next_batch_replaces_its_intents(
    harness: Harness,
) -> None:
    h = harness
    await h.ingest_all([h.raw({"id": 1, "title": "A"})])
    assert h.states.durable == {}  # handed over, not yet known to be acknowledged
    await h.ingest_all([h.raw({"id": 2, "title": "B"})])
    assert set(h.states.durable) == {
        "acme/offerings/1"
    }  # waited for before the second batch's intents


async def test_an_event_carries_its_raw_records_trace_in_a_traceparent_header(
    harness: Harness,
) -> None:
    await harness.ingest(harness.raw({"id": 7, "title": "Traced"}))
    [(header,)] = harness.log.headers[OFFERINGS]
    span = tracing.from_headers([header])
    assert span is not None and span.trace_id == tracing.w3c_trace_id("trace")


async def test_a_rounds_events_of_one_trace_share_one_span_other_traces_have_their_own(
    harness: Harness,
) -> None:
    h = harness
    page = [h.raw({"id": n, "title": f"T{n}"}) for n in (1, 2, 3)]
    other = h.raw({"id": 4, "title": "T4"}).model_copy(update={"trace_id": "another pull"})
    await h.ingest_all([*page, other])
    spans_of: dict[str, set[str]] = {}
    for headers in h.log.headers[OFFERINGS]:
        span = tracing.from_headers(headers)
        assert span is not None
        spans_of.setdefault(span.trace_id, set()).add(span.span_id)
    assert sorted(spans_of) == sorted(map(tracing.w3c_trace_id, ["trace", "another pull"]))
    [[one], [another]] = map(list, spans_of.values())
    assert one != another
