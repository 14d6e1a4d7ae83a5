"""The states of one enrolment: attempts, watchdogs, unknown outcomes, re-drives."""

from __future__ import annotations

from datetime import timedelta

from npo_integration.push import machine
from npo_integration.push.outcomes import Unavailable
from tests.unit.push.conftest import T0, make_assignment


def fresh() -> machine.EnrolmentState:
    return machine.new(make_assignment(), 2, T0)


def test_a_new_enrolment_is_pending_and_due_now() -> None:
    state = fresh()
    assert (state.status, state.attempts, state.partition, state.npo_id) == (
        "pending",
        0,
        2,
        "acme",
    )
    assert machine.is_due(state, T0)


def test_begin_counts_the_attempt_and_sets_a_watchdog_past_the_call_timeout() -> None:
    state = machine.begin(fresh(), T0, call_timeout=10)
    assert (state.status, state.attempts) == ("sending", 1)
    assert state.due_at == T0 + timedelta(seconds=30) + machine.WATCHDOG_GRACE
    assert not machine.is_due(state, T0 + timedelta(seconds=30))
    assert machine.is_due(state, T0 + timedelta(seconds=41))


def test_an_interrupted_call_may_have_taken_effect() -> None:
    sending = machine.begin(fresh(), T0, 10)
    assert machine.resumed(sending).maybe_applied
    assert not machine.resumed(fresh()).maybe_applied


def test_an_unknown_outcome_sticks_until_resolved() -> None:
    sending = machine.begin(fresh(), T0, 10)
    later = machine.retry_later(sending, Unavailable("timeout", outcome_unknown=True), T0, T0)
    assert (later.status, later.attempts, later.maybe_applied) == ("pending", 1, True)
    again = machine.retry_later(machine.begin(later, T0, 10), Unavailable("503"), T0, T0)
    assert (again.attempts, again.maybe_applied, again.reason) == (2, True, "503")
    assert not machine.not_applied(again).maybe_applied


def test_a_call_that_never_left_is_not_an_attempt() -> None:
    sending = machine.begin(fresh(), T0, 10)
    later = machine.retry_later(sending, Unavailable("circuit open", counted=False), T0, T0)
    assert later.attempts == 0


def test_unenrol_states_mirror_enrol_states() -> None:
    confirmed = machine.confirmed(machine.begin(fresh(), T0, 10), "enr-1", T0)
    assert (confirmed.status, confirmed.due_at, confirmed.npo_enrolment_ref) == (
        "confirmed",
        None,
        "enr-1",
    )
    unenrol = machine.start_unenrol(confirmed, T0)
    assert (unenrol.status, unenrol.operation, unenrol.attempts) == ("cancel_pending", "unenrol", 0)
    assert machine.begin(unenrol, T0, 10).status == "cancelling"
    assert machine.failed(unenrol, "no", T0).status == "cancel_failed"
    assert machine.failed(fresh(), "no", T0).status == "failed"


def test_redrive_restarts_failed_operations_only() -> None:
    failed = machine.failed(machine.begin(fresh(), T0, 10), "HTTP 422", T0)
    later = T0 + timedelta(hours=1)
    again = machine.redriven(failed, later)
    assert again is not None
    assert (again.status, again.attempts, again.redrives, again.due_at) == ("pending", 0, 1, later)
    cancel_failed = machine.failed(machine.start_unenrol(failed, T0), "503", T0)
    assert machine.redriven(cancel_failed, later).status == "cancel_pending"  # type: ignore[union-attr]
    assert machine.redriven(machine.confirmed(failed, "e", T0), later) is None
