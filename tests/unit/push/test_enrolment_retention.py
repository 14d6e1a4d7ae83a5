"""Which enrolments the enrolment retention sweep deletes: settled (a final status, nothing due,
its outcome acknowledged before it was stored) for at least ``NPO_ENROLMENT_RETENTION_DAYS``;
never one with work due, in flight or waiting for an operator."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from npo_integration.models.enrolment import EnrolmentCommand, EnrolmentState
from npo_integration.push import machine
from npo_integration.push.outcomes import Unavailable
from npo_integration.settings import Settings
from tests.unit.push.conftest import T0, make_assignment

DAY = timedelta(days=1)
RETENTION = 90 * DAY


def pending() -> EnrolmentState:
    return machine.new(make_assignment(), 0, T0)


def settled_states() -> dict[str, EnrolmentState]:
    sent = machine.begin(pending(), T0, 10.0)
    confirmed = machine.confirmed(sent, "E-1", T0)
    return {
        "confirmed": confirmed,
        "failed": machine.failed(sent, "refused", T0),
        "cancelled": machine.cancelled(pending(), "cancelled first", T0),
        "cancel_not_supported": machine.cancel_not_supported(confirmed, T0),
        "cancel_failed": machine.failed(machine.start_unenrol(confirmed, T0), "no", T0),
        "erased (bookkeeping)": pending().model_copy(update={"due_at": None, "erased_at": T0}),
    }


def due_states() -> dict[str, EnrolmentState]:
    sent = machine.begin(pending(), T0, 10.0)
    confirmed = machine.confirmed(sent, "E-1", T0)
    unenrolling = machine.start_unenrol(confirmed, T0)
    return {
        "pending": pending(),
        "sending": sent,
        "retrying": machine.retry_later(sent, Unavailable("503"), T0 + DAY, T0),
        "unknown": machine.unknown(sent, "no key, no lookup", T0),
        "unknown, cancel requested": machine.request_cancel(machine.unknown(sent, "?", T0), T0),
        "cancel_pending": unenrolling,
        "cancelling": machine.begin(unenrolling, T0, 10.0),
        "failed, re-driven": machine.redriven(machine.failed(sent, "no", T0), T0),
    }


@pytest.mark.parametrize("name", list(settled_states()))
def test_a_settled_enrolment_expires_once_settled_for_the_retention(name: str) -> None:
    state = settled_states()[name]
    assert state.settled
    assert state.expired(T0 + RETENTION, RETENTION)
    assert not state.expired(T0 + RETENTION - timedelta(seconds=1), RETENTION)


@pytest.mark.parametrize("name", list(due_states()))
def test_an_enrolment_with_anything_due_never_expires(name: str) -> None:
    state = due_states()[name]
    assert state is not None
    assert not state.settled
    assert not state.expired(T0 + 3650 * DAY, timedelta(0))


def test_the_retention_counts_from_when_it_settled_not_when_it_was_created() -> None:
    late = machine.confirmed(machine.begin(pending(), T0, 10.0), "E-1", T0 + 30 * DAY)
    assert not late.expired(T0 + RETENTION, RETENTION)
    assert late.expired(T0 + 30 * DAY + RETENTION, RETENTION)


def test_a_zero_retention_expires_a_settled_enrolment_at_once() -> None:
    assert settled_states()["confirmed"].expired(T0, timedelta(0))


def _settings(**env: object) -> Settings:
    return Settings(secrets_keys=Fernet.generate_key().decode(), **env)  # type: ignore[arg-type]


def test_the_enrolment_retention_outlives_the_assignments_topic_or_is_zero() -> None:
    assert _settings().enrolment_retention_days == 90.0
    assert _settings(enrolment_retention_days=7, personal_data_retention_days=7)
    assert _settings(enrolment_retention_days=0).enrolment_retention_days == 0
    with pytest.raises(ValidationError, match="less than NPO_PERSONAL_DATA_RETENTION_DAYS"):
        _settings(enrolment_retention_days=6.5, personal_data_retention_days=7)
    with pytest.raises(ValidationError):
        _settings(enrolment_retention_days=-1)


def test_only_the_settled_sweep_goes_without_an_npo() -> None:
    step = EnrolmentCommand(event_type="enrolment.expire_settled")
    assert step.npo_id is None
    with pytest.raises(ValidationError, match="needs an npo_id"):
        EnrolmentCommand(event_type="enrolment.purge_npo")
