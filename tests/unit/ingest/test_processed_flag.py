"""The processed flag: first sight, unchanged, changed, failed, stale, and the
intent of the crash window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from npo_integration.ingest import processed_flag
from npo_integration.models.internal import RawRecord
from npo_integration.models.state import DeliveryIntent
from npo_integration.pull.raw import raw_record

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def raw(title: str, *, at: datetime = T0) -> RawRecord:
    made = raw_record("acme", "offerings", "1", {"id": 1, "title": title}, "t")
    return made.model_copy(update={"fetched_at": at})


def intent_for(record: RawRecord) -> DeliveryIntent:
    return DeliveryIntent(
        event_id="e1",
        event_type="npo_offering.created",
        content_hash=record.content_hash,
        topic="offerings",
        partition=2,
        offset=7,
        at=T0,
    )


def test_a_new_record_needs_processing_and_an_identical_refetch_does_not() -> None:
    first = raw("A")
    assert processed_flag.needs_processing(None, first)
    done = processed_flag.processed(None, first, T0)
    assert done.processed and done.processed_hash == first.content_hash and done.first_seen_at == T0
    assert not processed_flag.needs_processing(done, raw("A", at=T0 + timedelta(minutes=5)))


def test_changed_content_needs_processing_again() -> None:
    done = processed_flag.processed(None, raw("A"), T0)
    assert processed_flag.needs_processing(done, raw("B", at=T0 + timedelta(seconds=1)))


def test_an_older_fetch_of_other_content_is_stale() -> None:
    newer = processed_flag.processed(None, raw("B", at=T0 + timedelta(seconds=10)), T0)
    old = raw("A", at=T0)
    assert processed_flag.is_stale(newer, old)
    assert not processed_flag.needs_processing(newer, old)
    assert not processed_flag.is_stale(newer, raw("B", at=T0))  # same content is never stale


def test_a_failure_keeps_the_processed_hash_and_counts_attempts_per_content() -> None:
    done = processed_flag.processed(None, raw("A"), T0)
    b = raw("B", at=T0 + timedelta(seconds=1))
    once = processed_flag.failed(done, b, "TransformError: x", T0)
    assert not once.processed and once.processed_hash == done.processed_hash and once.attempts == 1
    twice = processed_flag.failed(once, b, "TransformError: x", T0)
    assert twice.attempts == 2 and twice.last_error == "TransformError: x"
    other = processed_flag.failed(
        twice, raw("C", at=T0 + timedelta(seconds=2)), "TransformError: x", T0
    )
    assert other.attempts == 1
    assert processed_flag.needs_processing(twice, b)  # unprocessed: the same content is tried again


def test_only_a_new_failure_is_worth_a_dead_letter() -> None:
    b = raw("B")
    assert processed_flag.is_new_failure(None, b, "r1")
    once = processed_flag.failed(None, b, "r1", T0)
    assert not processed_flag.is_new_failure(once, b, "r1")
    assert processed_flag.is_new_failure(once, b, "r2")
    assert processed_flag.is_new_failure(once, raw("C"), "r1")


def test_the_intent_is_unprocessed_until_resolved_either_way() -> None:
    a = raw("A")
    pending = processed_flag.with_intent(None, a, intent_for(a), T0)
    assert not pending.processed and pending.intent is not None and pending.processed_hash is None
    assert processed_flag.needs_processing(pending, a)
    sent = processed_flag.delivered(pending, pending.intent, T0)
    assert sent.processed and sent.processed_hash == a.content_hash and sent.intent is None
    assert not processed_flag.needs_processing(sent, a)
    assert processed_flag.without_intent(pending).intent is None
    assert processed_flag.failed(pending, a, "r", T0).intent == pending.intent  # kept until checked
    assert processed_flag.processed(pending, a, T0).intent is None


def test_only_a_sent_event_moves_the_change_number_on() -> None:
    a, b = raw("A"), raw("B", at=T0 + timedelta(seconds=1))
    assert processed_flag.next_change(None) == 1
    first = processed_flag.processed(None, a, T0, change=1)
    assert first.changes == 1 and processed_flag.next_change(first) == 2
    assert processed_flag.processed(first, b, T0).changes == 1  # no event: no number taken
    failing = processed_flag.failed(first, b, "r", T0)
    assert processed_flag.next_change(failing) == 2  # the re-drive gets the same number
    sending = processed_flag.with_intent(
        first, b, intent_for(b).model_copy(update={"change": 2}), T0
    )
    assert processed_flag.next_change(processed_flag.without_intent(sending)) == 2
    assert processed_flag.delivered(sending, sending.intent, T0).changes == 2  # type: ignore[arg-type]
    unnumbered = intent_for(b)  # written before changes were numbered
    assert processed_flag.delivered(sending, unnumbered, T0).changes == 1
