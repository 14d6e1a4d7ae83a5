"""A pull's duration goes to npo_pull_seconds by stream and outcome; its log lines carry the NPO,
stream and (W3C) trace id."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from npo_integration import metrics
from npo_integration.log_format import JsonFormatter
from npo_integration.tracing import w3c_trace_id
from tests.unit.pull.test_extract import FakeClient, run


def pulls_seen(outcome: str) -> float:
    labels = {"stream": "offerings", "outcome": outcome}
    return metrics.registry.get_sample_value("npo_pull_seconds_count", labels) or 0.0


@pytest.fixture
def pull_log() -> Iterator[io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("npo_integration.pull.extract")
    logger.addHandler(handler)
    yield out
    logger.removeHandler(handler)


async def test_a_pull_is_timed_by_outcome() -> None:
    before = pulls_seen("succeeded"), pulls_seen("failed")
    await run(FakeClient({"/o": [[{"id": 1}]]}))
    await run(FakeClient({"/o": [[{"id": 1}], [{"id": 2}]]}, fail_after=1))
    assert (pulls_seen("succeeded"), pulls_seen("failed")) == (before[0] + 1, before[1] + 1)


async def test_a_failed_pulls_line_names_the_npo_stream_and_trace(pull_log: io.StringIO) -> None:
    await run(FakeClient({"/o": [[{"id": 1}], [{"id": 2}]]}, fail_after=1))
    (line,) = [json.loads(text) for text in pull_log.getvalue().splitlines()]
    assert line["level"] == "WARNING" and "failed after 1 records" in line["message"]
    # the request's trace id "t" predates W3C trace ids: the line carries its W3C form
    assert (line["npo_id"], line["stream"], line["trace_id"]) == (
        "n1",
        "offerings",
        w3c_trace_id("t"),
    )
