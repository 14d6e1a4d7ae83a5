"""Outside JSON that would raise RecursionError or UnicodeDecodeError becomes a clear error."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from npo_integration.http.classify import require_json
from npo_integration.http.errors import NpoResponseError
from npo_integration.http.response import NpoResponse
from npo_integration.json_input import JsonInputError, loads, nesting_depth
from tests.unit.fuzz.strategies import json_values

DEEP = b"[" * 5000 + b"]" * 5000


def deep_value(levels: int) -> list[object]:
    """A list nested ``levels`` deep, built without recursion."""
    value: list[object] = []
    for _ in range(levels - 1):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (DEEP, "JSON nested too deeply to parse"),
        (b'{"a": "\xff\xfe"}', "not UTF-8: invalid byte at position 7"),
        (b"{", "invalid JSON at line 1 column 2"),
        ("[" * 100_000, "JSON nested too deeply to parse"),
    ],
    ids=["deep", "not-utf8", "invalid", "deep-unclosed"],
)
def test_bad_json_is_a_json_input_error_naming_the_problem(data: bytes | str, message: str) -> None:
    with pytest.raises(JsonInputError, match=message):
        loads(data)


def test_nesting_depth_measures_any_depth_without_recursion() -> None:
    assert nesting_depth(0) == 0
    assert nesting_depth([]) == 1
    assert nesting_depth({"a": [{"b": 1}]}) == 3
    assert nesting_depth(deep_value(50_000)) == 50_000
    assert nesting_depth(deep_value(50_000), stop_above=64) == 65


def _depth(value: Any) -> int:
    """The definition, recursively (hypothesis's values are shallow)."""
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list | tuple):
        return 1 + max(map(_depth, value), default=0)
    return 0


@given(json_values, st.integers(min_value=0, max_value=6))
def test_nesting_depth_is_the_deepest_path_or_just_past_the_limit(
    value: Any, stop_above: int
) -> None:
    depth = _depth(value)
    assert nesting_depth(value) == depth
    assert nesting_depth(value, stop_above=stop_above) == min(depth, stop_above + 1)


def response(raw: bytes, charset: str | None = "utf-8") -> NpoResponse:
    return NpoResponse.build(
        status=200,
        url="https://npo.example/o",
        headers={"Content-Type": "application/json"},
        raw=raw,
        charset=charset,
        links={},
    )


def test_an_npo_body_nested_too_deeply_is_text_with_the_reason() -> None:
    answer = response(DEEP)
    assert not answer.is_json
    with pytest.raises(NpoResponseError, match="nested too deeply to parse"):
        require_json(answer, method="GET", scrub=str)


def test_an_npo_body_that_is_not_utf8_is_read_with_replacements() -> None:
    answer = response(b'{"data": [{"id": "1", "name": "caf\xe9"}]}')
    assert answer.is_json
    assert answer.json == {"data": [{"id": "1", "name": "caf\ufffd"}]}
    assert response(b"\xff\xfe\x00", charset="no-such-charset").text == "\ufffd\ufffd\x00"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (
            b'{"event_type": "x"' + b" " * 300_000 + b"}",
            "message of 300019 bytes, more than 262144",
        ),
        (b'{"npo_id": ' + DEEP + b"}", "recursion limit exceeded"),
        (b'{"npo_id": "\xff"}', "Invalid JSON"),
    ],
    ids=["too-large", "deep", "not-utf8"],
)
def test_a_platform_message_too_large_deep_or_not_utf8_is_a_decode_error(
    raw: bytes, reason: str
) -> None:
    from npo_integration.models.assessment import NpoAssessed
    from npo_integration.models.codec import MAX_PLATFORM_MESSAGE_BYTES, DecodeError
    from npo_integration.registry.config_input import decode_with_config

    with pytest.raises(DecodeError, match=reason):  # as the npo-assessed agent reads it
        decode_with_config(
            NpoAssessed, raw, at=("integration",), max_bytes=MAX_PLATFORM_MESSAGE_BYTES
        )
