"""Which NPOs the state sweep deletes: deactivated (not paused) for at least the retention."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from npo_integration.app import app  # noqa: F401  (wires the tables first)
from npo_integration.models.codec import decode
from npo_integration.tables.npo_configs import ConfigSummary

STORED = json.loads(
    (Path(__file__).resolve().parents[1] / "fixtures" / "stored_v1" / "values.json").read_text()
)["values"]["NpoConfigVersion"][0]
UPDATED = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # the fixture's updated_at
DAY = timedelta(days=1)


def summary(change: str, active: bool) -> ConfigSummary:
    data = json.loads(STORED)
    data["change"], data["config"]["active"] = change, active
    return decode(ConfigSummary, json.dumps(data).encode())


@pytest.mark.parametrize(
    ("change", "active", "age", "expired"),
    [
        ("deactivate", False, 30 * DAY, True),
        ("deactivate", False, 30 * DAY - timedelta(seconds=1), False),
        ("pause", False, 365 * DAY, False),  # a paused NPO keeps its state
        ("upsert", True, 365 * DAY, False),
        ("upsert", False, 30 * DAY, False),  # inactive as registered: not a deactivation
    ],
)
def test_only_a_deactivation_older_than_the_retention_expires_the_state(
    change: str, active: bool, age: timedelta, expired: bool
) -> None:
    assert summary(change, active).state_expired(UPDATED + age, 30 * DAY) is expired


def test_an_erased_npos_state_expires_at_once() -> None:
    erased = summary("erase", False)
    assert erased.erased and erased.public()["erased"] is True
    assert erased.state_expired(UPDATED, 30 * DAY)  # no retention wait
    assert not summary("deactivate", False).erased
