"""A stream's first request: its templates filled with the cursor and the parent record."""

from __future__ import annotations

import pytest

from npo_integration.errors import SkippableError
from npo_integration.models.npo_config import StreamConfig
from npo_integration.pull.stream_request import stream_request


def test_literal_braces_and_placeholders() -> None:
    stream = StreamConfig.model_validate(
        {
            "path": "/c/{parent.course.id}/e",
            "params": {"filter": '{{"since": "{cursor}"}}', "n": "{parent.n}"},
            "name": "assignments",
            "kind": "progress",
            "parent_stream": "offerings",
            "incremental": {"cursor_field": "t", "initial": "0"},
        }
    )
    path, params = stream_request(stream, cursor="17", parent={"course": {"id": "a/b"}, "n": 3.0})
    assert path == "/c/a%2Fb/e"
    assert params == {"filter": '{"since": "17"}', "n": "3"}


@pytest.mark.parametrize("parent", [{"course": {"id": None}}, {"course": {}}, {"course": None}])
def test_a_parent_without_the_value_is_skipped(parent: dict[str, object]) -> None:
    stream = StreamConfig.model_validate(
        {"name": "a", "kind": "progress", "path": "/c/{parent.course.id}", "parent_stream": "o"}
    )
    with pytest.raises(SkippableError, match=r"\{parent.course.id\}"):
        stream_request(stream, cursor=None, parent=parent)
