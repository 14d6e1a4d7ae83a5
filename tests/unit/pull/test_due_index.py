"""The scheduler's due index: streams come out when due, earliest first;
changes replace, never double."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from npo_integration.models.codec import encode
from npo_integration.models.npo_config import NpoConfigVersion
from npo_integration.models.state import StreamPullState
from npo_integration.pull import schedule
from npo_integration.pull.due_index import DueIndex
from npo_integration.registry.config_input import read_config
from npo_integration.registry.sealed_config import seal_config
from npo_integration.sealing import SecretBox

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "npos"

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_streams_come_out_when_due_earliest_first_and_once() -> None:
    index = DueIndex()
    index.set("b", "offerings", 20)
    index.set("a", "offerings", 10)
    index.set("a", "assignments", 30)
    assert index.pop_due(5) == []
    assert index.pop_due(25) == [("a", "offerings"), ("b", "offerings")]
    assert index.pop_due(25) == [] and len(index) == 1
    assert index.next_due() == 30


def test_rescheduling_replaces_the_old_due_time() -> None:
    index = DueIndex()
    index.set("a", "offerings", 10)
    index.set("a", "offerings", 100)  # a pull started: next due much later
    assert index.pop_due(50) == []
    assert index.pop_due(100) == [("a", "offerings")]


def test_keep_only_drops_streams_of_a_changed_or_inactive_npo() -> None:
    index = DueIndex()
    index.set("a", "offerings", 10)
    index.set("a", "assignments", 10)
    index.keep_only("a", ["offerings"])
    assert index.pop_due(20) == [("a", "offerings")]
    index.set("a", "offerings", 30)
    index.keep_only("a", [])
    assert index.pop_due(100) == [] and len(index) == 0 and index.streams_of("a") == set()


def test_many_changes_keep_the_heap_small() -> None:
    index = DueIndex()
    for n in range(10_000):
        index.set("a", "offerings", float(n))
    assert len(index) == 1 and len(index._heap) < 3000
    assert index.pop_due(1e9) == [("a", "offerings")]


def test_due_at_follows_this_workers_run_and_the_next_run() -> None:
    idle = StreamPullState(next_run_at=T0)
    assert schedule.due_at(idle, "w1") == T0
    assert schedule.due_at(StreamPullState(), "w1") is None  # never pulled: due now
    running = StreamPullState(
        running_since=T0, running_worker="w1", next_run_at=T0 - timedelta(minutes=1)
    )
    assert schedule.due_at(running, "w1") == T0 + schedule.LEASE  # this worker's run holds it
    # another worker's run is stale here
    assert schedule.due_at(running, "w2") == T0 - timedelta(minutes=1)


def test_the_schedule_view_reads_only_what_the_scheduler_needs() -> None:
    raw = (
        b'{"npo_id": "a", "version": 3, "updated_at": "2026-11-30T12:00:00Z", "source": "file",'
        b' "change": "upsert",'
        b' "config": {"npo_id": "a", "active": true, "base_url": "https://a.example",'
        b' "transform": {"kind": "x"},'
        b' "streams": {"offerings": {"path": "/o", "schedule_seconds": 60},'
        b' "assignments": {"path": "/p", "enabled": false}}}}'
    )
    view = schedule.ScheduleView.model_validate_json(raw)
    assert view.intervals() == {"offerings": 60}
    inactive = schedule.ScheduleView.model_validate_json(
        raw.replace(b'"active": true', b'"active": false')
    )
    assert inactive.intervals() == {}


def test_a_full_config_and_the_schedule_view_of_its_bytes_give_the_same_streams(
    box: SecretBox,
) -> None:
    """The scheduler reads its own writes from the decoded config and others' from the bytes."""
    for name in ("simple", "canvas", "moodle", "salesforce"):
        config = read_config(json.loads((EXAMPLES / f"{name}.json").read_bytes()))
        for changed in (config, config.model_copy(update={"active": False})):
            version = NpoConfigVersion(
                npo_id=changed.npo_id,
                version=1,
                updated_at=T0,
                source="file",
                change="upsert",
                config=seal_config(changed, box),
            )
            full = schedule.config_intervals(changed)
            view = schedule.ScheduleView.model_validate_json(encode(version))
            assert full == view.intervals(), name
