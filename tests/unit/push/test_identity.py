"""Deterministic Idempotency-Keys and event ids."""

from __future__ import annotations

from npo_integration.push.identity import idempotency_key, link_event_id, result_event_id


def test_keys_are_stable_per_assignment_and_differ_by_operation() -> None:
    key = idempotency_key("enrol", "asg-1")
    assert key == idempotency_key("enrol", "asg-1")
    assert key.startswith("spotlight-enrol-") and len(key) == len("spotlight-enrol-") + 64
    assert key != idempotency_key("enrol", "asg-2")
    assert key != idempotency_key("unenrol", "asg-1")


def test_a_repeated_decision_has_the_same_id_and_a_redriven_one_a_new_id() -> None:
    assert result_event_id("asg-1", "failed", 0) == result_event_id("asg-1", "failed", 0)
    assert result_event_id("asg-1", "failed", 0) != result_event_id("asg-1", "failed", 1)
    assert result_event_id("asg-1", "failed", 0) != result_event_id("asg-1", "confirmed", 0)
    assert link_event_id("asg-1", "enrolment.linked", "e") != link_event_id(
        "asg-1", "enrolment.unlinked", "e"
    )
