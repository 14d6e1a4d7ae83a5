"""The path language: its grammar, its errors, and its two readings of null."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import pytest

from npo_integration.expressions import (
    MISSING,
    Path,
    PathError,
    PathSyntaxError,
    format_steps,
    kind_of,
    parse_path,
)

DATA: dict[str, Any] = {
    "a": {"b": [{"c": 1}, {"c": None}]},
    "key.with.dots": "dotted",
    "n": None,
    "text": "hello",
    "zero": 0,
}


@pytest.mark.parametrize(
    ("text", "steps"),
    [
        ("a", ("a",)),
        ("a.b[0].c", ("a", "b", 0, "c")),
        ("a.b[-1]", ("a", "b", -1)),
        ("[0].id", (0, "id")),
        ("[0][1]", (0, 1)),
        ('["key.with.dots"]', ("key.with.dots",)),
        ("x['y z'].w", ("x", "y z", "w")),
        ("a.[0]", ("a", 0)),
        ("Stage With Space", ("Stage With Space",)),
        ("Contact__r.Email", ("Contact__r", "Email")),
    ],
)
def test_grammar(text: str, steps: tuple[object, ...]) -> None:
    path = parse_path(text)
    assert path == Path(text, steps)
    assert path.text == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "path '' is empty or has surrounding spaces"),
        (" a", "path ' a' is empty or has surrounding spaces"),
        ("a.", "path 'a.' ends with '.'"),
        (".a", "path '.a' is malformed at character 1"),
        ("a..b", "path 'a..b' is malformed at character 3"),
        ("a[x]", "path 'a[x]' is malformed at character 2"),
        ("a[0]b", "path 'a[0]b' is malformed at character 5"),
        ("a[", "path 'a[' is malformed at character 2"),
        ("a]", "path 'a]' is malformed at character 2"),
        ("{a}", "path '{a}' is malformed at character 1"),
        ('["unclosed]', "path '[\"unclosed]' is malformed at character 1"),
    ],
)
def test_malformed_paths_say_where(text: str, message: str) -> None:
    with pytest.raises(PathSyntaxError) as info:
        parse_path(text)
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)


def test_the_empty_path_is_the_data_itself_only_where_asked_for() -> None:
    root = parse_path("", empty_is_root=True)
    assert root.steps == ()
    assert root.get(DATA) is DATA
    with pytest.raises(PathSyntaxError):
        parse_path(" ", empty_is_root=True)


def test_a_path_is_parsed_once() -> None:
    assert parse_path("a.b[0].c") is parse_path("a.b[0].c")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("a.b[0].c", 1),
        ("a.b[-2].c", 1),
        ("zero", 0),
        ('["key.with.dots"]', "dotted"),
        ("n", None),  # null is a value
        ("a.b[1].c", None),
        ("absent", MISSING),
        ("a.b[5]", MISSING),
        ("n.x", MISSING),  # null on the way
        ("a.b.c", MISSING),  # a key in a list: does not fit
        ("text[0]", MISSING),  # an index in a string: does not fit
        ("a[0]", MISSING),
    ],
)
def test_get_reads_null_as_a_value_and_a_misfit_as_missing(text: str, value: object) -> None:
    found = parse_path(text).get(DATA)
    assert found is value if value is None or value is MISSING else found == value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("a.b[0].c", 1),
        ("zero", 0),
        ("n", MISSING),  # null is missing
        ("a.b[1].c", MISSING),
        ("n.x", MISSING),
        ("absent", MISSING),
        ("a.b[5]", MISSING),
    ],
)
def test_get_strict_reads_null_as_missing(text: str, value: object) -> None:
    found = parse_path(text).get_strict(DATA)
    assert found is value if value is MISSING else found == value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a.b.c", "expected an object at 'a.b' to look up 'c', found list"),
        ("text[0]", "expected a list at 'text' to take [0], found string"),
        ("a[0]", "expected a list at 'a' to take [0], found object"),
        ("[0]", "expected a list at '<record>' to take [0], found object"),
    ],
)
def test_get_strict_says_where_the_shape_does_not_fit(text: str, message: str) -> None:
    with pytest.raises(PathError) as info:
        parse_path(text).get_strict(DATA)
    assert str(info.value) == message


def test_format_steps_quotes_what_needs_it_and_round_trips() -> None:
    assert format_steps(("a", 0, "key.with.dots")) == 'a[0]["key.with.dots"]'
    assert format_steps(()) == "<record>"
    for text in ("a.b[0].c", '["key.with.dots"].x', "[0].id"):
        assert parse_path(format_steps(parse_path(text).steps)).steps == parse_path(text).steps


def test_missing_is_one_falsy_singleton_that_survives_copies() -> None:
    assert not MISSING and repr(MISSING) == "MISSING"
    assert copy.deepcopy(MISSING) is MISSING
    assert pickle.loads(pickle.dumps(MISSING)) is MISSING


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (None, "null"),
        (True, "boolean"),
        (1.5, "number"),
        ("x", "string"),
        ([], "list"),
        ({}, "object"),
    ],
)
def test_kind_of(value: object, kind: str) -> None:
    assert kind_of(value) == kind
