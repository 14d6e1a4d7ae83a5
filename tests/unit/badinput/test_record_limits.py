"""A pull refuses a record over the size or depth limits: dead-lettered with the reason, the
stream's ``last_error`` says so, and the next records go on as usual."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from npo_integration.models.internal import RawPage
from npo_integration.models.state import StreamPullState
from npo_integration.pull import schedule
from npo_integration.pull.extract import StreamPuller
from npo_integration.pull.raw import RecordLimits
from npo_integration.pull.walker import Page
from npo_integration.registry.config_input import read_config
from tests.unit.badinput.test_json_input import deep_value

CONFIG = read_config(
    {
        "npo_id": "n1",
        "display_name": "N",
        "base_url": "https://n.example",
        "streams": {"offerings": {"path": "/o", "incremental": {"cursor_field": "updated"}}},
        "transform": {"kind": "plugin", "name": "simple"},
    }
)
LIMITS = RecordLimits(max_bytes=100_000, max_depth=64)


def walk_of(pages: list[list[Any]]) -> Any:
    async def pages_of() -> AsyncIterator[Page]:
        for number, records in enumerate(pages, start=1):
            cursors = [r["updated"] for r in records if isinstance(r, dict) and "updated" in r]
            yield Page(records, number, "/o", next_cursor_candidate=max(cursors, default=None))

    def walk(*args: Any, **kwargs: Any) -> AsyncIterator[Page]:
        return pages_of()

    return walk


async def test_records_over_the_limits_are_refused_and_the_rest_published() -> None:
    big = {"id": "big", "updated": "2024-01-02", "text": "x" * 2_000_000}
    deep = {"id": "deep", "updated": "2024-01-03", "v": deep_value(5_000)}
    no_id_deep = {"updated": "2024-01-03", "v": deep_value(100)}
    good = [{"id": "a", "updated": "2024-01-01"}, {"id": "b", "updated": "2024-01-04"}]
    published: list[str] = []
    refused: list[tuple[str, str]] = []
    cursors: list[str] = []

    async def publish(pages: list[RawPage]) -> None:
        published.extend(r.record_key for page in pages for r in page.unpacked())

    async def refuse(key: str, record: Any, reason: str) -> None:
        refused.append((key, reason))

    puller = StreamPuller(
        walk_of([[good[0], big, deep], [no_id_deep, good[1]]]),
        CONFIG,
        "offerings",
        limits=LIMITS,
        refuse=refuse,
    )
    outcome = await puller.run(
        cursor=None, trace_id="t", publish=publish, commit_cursor=cursors.append
    )

    assert outcome.error is None
    assert published == ["n1/offerings/a", "n1/offerings/b"]
    assert refused == [
        ("n1/offerings/big", "record of 2000045 bytes, more than 100000 (NPO_MAX_RECORD_BYTES)"),
        ("n1/offerings/deep", "record nested more than 64 levels deep (NPO_MAX_RECORD_DEPTH)"),
        ("n1/offerings/(no id)", "record nested more than 64 levels deep (NPO_MAX_RECORD_DEPTH)"),
    ]
    assert (outcome.records, outcome.refused) == (2, 3)
    assert outcome.refusal == (
        "n1/offerings/big: record of 2000045 bytes, more than 100000 (NPO_MAX_RECORD_BYTES)"
    )
    assert cursors == ["2024-01-04"]  # refused records are passed, not retried


async def test_an_unexpected_error_fails_the_run_not_the_agent() -> None:
    async def publish(pages: list[RawPage]) -> None:
        raise KeyError("a bug")

    outcome = await StreamPuller(walk_of([[{"id": "a"}]]), CONFIG, "offerings").run(
        cursor=None, trace_id="t", publish=publish, commit_cursor=lambda c: None
    )
    assert outcome.error == "unexpected KeyError: 'a bug'"


def test_a_run_with_refused_records_succeeds_and_keeps_the_reason_as_last_error() -> None:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    failed_before = StreamPullState(consecutive_failures=2)
    done = schedule.succeeded(failed_before, now, 60, 5, problem="1 record(s) refused: big")
    assert (done.last_error, done.last_error_at, done.last_success_at) == (
        "1 record(s) refused: big",
        now,
        now,
    )
    assert done.consecutive_failures == 0
    clean = schedule.succeeded(done, now, 60, 5)
    assert clean.last_error == "1 record(s) refused: big"  # kept until a later problem
