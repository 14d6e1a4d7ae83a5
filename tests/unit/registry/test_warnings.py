"""The registry warns about an enrolling NPO whose unknown outcomes only an operator can settle."""

from __future__ import annotations

from typing import Any

import pytest

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
