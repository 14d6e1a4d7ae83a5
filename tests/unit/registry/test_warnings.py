"""The registry warns about an enrolling NPO whose unknown outcomes only an operator can settle."""

from __future__ import annotations

from typing import Any

import pytest

from npo_integration.http.npo_state import CallCaps
from npo_integration.registry.warnings import NO_UNKNOWN_OUTCOME_POLICY, config_warnings
from tests.unit.push.conftest import SIMPLE_ENROLMENT, SIMPLE_LOOKUP, make_config


@pytest.mark.parametrize(
    ("enrolment", "warned"),
    [
        ({**SIMPLE_ENROLMENT, "idempotency_key": None}, True),
        ({**SIMPLE_ENROLMENT, "idempotency_key": "ignored"}, True),
        ({**SIMPLE_ENROLMENT, "idempotency_key": "honoured"}, False),
        ({**SIMPLE_ENROLMENT, "idempotency_key": None, "lookup": SIMPLE_LOOKUP}, False),
        ({**SIMPLE_ENROLMENT, "idempotency_key": None, "enabled": False}, False),
    ],
)
def test_an_enrolling_npo_with_neither_key_nor_lookup_is_warned_about(
    enrolment: dict[str, Any], warned: bool
) -> None:
    expected = [NO_UNKNOWN_OUTCOME_POLICY] if warned else []
    assert config_warnings(make_config(enrolment=enrolment)) == expected


def test_values_above_the_workers_caps_are_warned_about_with_the_value_used() -> None:
    caps = CallCaps(
        timeout_seconds=30, retry_attempts=5, retry_backoff_seconds=30, failure_threshold=20
    )
    config = make_config(timeout_seconds=300, enrolment=SIMPLE_ENROLMENT)
    (warning,) = config_warnings(config, caps)
    assert "timeout_seconds" in warning and "NPO_HTTP_MAX_CALL_TIMEOUT_SECONDS" in warning
    assert config_warnings(make_config(enrolment=SIMPLE_ENROLMENT), caps) == []
