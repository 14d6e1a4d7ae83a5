import re

import pytest

from npo_integration.expressions import MISSING, Path, parse_path
from npo_integration.http.errors import NpoResponseError
from npo_integration.pull.records import (
    extract_records,
    max_cursor,
    newer_cursor,
    record_id,
)


def p(text: str) -> Path:
    """A path as the HTTP side parses it: the empty path is the body."""
    return parse_path(text, empty_is_root=True)


BODY = {"data": {"items": [{"id": 1, "meta": {"tags": ["a", "b"]}}, {"id": 2}]}, "n": None}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("", BODY),
        ("data.items[0].id", 1),
        ("data.items[-1].id", 2),
        ("data.items[0].meta.tags[1]", "b"),
        ("n", None),
        ("data.missing", MISSING),
        ("data.items[5]", MISSING),
        ("data.items.id", MISSING),
        ("n.x", MISSING),
    ],
)
def test_lookup_dotted_and_indexed_paths(path: str, expected: object) -> None:
    assert p(path).get(BODY) is expected or p(path).get(BODY) == expected


def test_lookup_on_a_list_body() -> None:
    assert p("[0].id").get([{"id": 9}]) == 9


def test_malformed_path_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=re.escape("path 'data.items[x]' is malformed")):
        p("data.items[x]")


def test_extract_records_from_path_or_body() -> None:
    assert extract_records({"data": [1, 2]}, p("data")) == [1, 2]
    assert extract_records([1], p("")) == [1]
    assert extract_records({"a": {"b": []}}, p("a.b")) == []


@pytest.mark.parametrize(
    ("body", "path", "message"),
    [
        ({"data": "oops"}, "data", "records_path 'data' is not a list: got str"),
        ({"data": None}, "data", "records_path 'data' is not a list: got null"),
        ({"other": []}, "data", "records_path 'data' is not a list: got nothing (path not found)"),
        ({"data": []}, "", "records_path '(the body)' is not a list: got dict"),
    ],
)
def test_extract_records_refuses_anything_but_a_list(body: object, path: str, message: str) -> None:
    with pytest.raises(NpoResponseError) as info:
        extract_records(body, p(path))
    assert str(info.value) == message


def test_record_id() -> None:
    assert record_id({"id": 12}, p("id")) == "12"
    assert record_id({"Id": "a0B"}, p("Id")) == "a0B"
    assert record_id({"course": {"id": "c1"}}, p("course.id")) == "c1"
    assert record_id({"id": None}, p("id")) is None
    assert record_id({}, p("id")) is None
    assert record_id({"id": {"x": 1}}, p("id")) is None


def test_max_cursor_compares_numbers_numerically() -> None:
    records = [{"t": 9}, {"t": 10}, {"t": 1_700_000_000.0}, {"t": None}, {}]
    assert max_cursor(records, p("t")) == "1700000000"
    assert max_cursor([{"t": 9}, {"t": 10}], p("t")) == "10"
    assert max_cursor([{"t": 1.5}], p("t")) == "1.5"


def test_max_cursor_compares_iso_strings_as_given() -> None:
    records = [
        {"LastModifiedDate": "2024-03-01T10:00:00.000+0000"},
        {"LastModifiedDate": "2024-11-20T08:00:00.000+0000"},
        {"LastModifiedDate": "2024-09-30T23:59:59.000+0000"},
    ]
    assert max_cursor(records, p("LastModifiedDate")) == "2024-11-20T08:00:00.000+0000"
    assert max_cursor([{"a": {"t": "x"}}], p("a.t")) == "x"


def test_max_cursor_without_values_or_with_mixed_types() -> None:
    assert max_cursor([], p("t")) is None
    assert max_cursor([{"x": 1}], p("t")) is None
    with pytest.raises(NpoResponseError, match="mixes numbers and strings"):
        max_cursor([{"t": 1}, {"t": "2024"}], p("t"))
    with pytest.raises(NpoResponseError, match="holds dict"):
        max_cursor([{"t": {}}], p("t"))


def test_newer_cursor() -> None:
    assert newer_cursor(None, "5") == "5"
    assert newer_cursor("5", None) == "5"
    assert newer_cursor("9", "10") == "10"
    assert newer_cursor("2024-02-01", "2024-01-01") == "2024-02-01"


NOW = 1_800_000_000.0  # 2027-01-15, epoch seconds


def test_max_cursor_never_takes_a_value_past_now_plus_the_skew() -> None:
    """A record dated in 2099 would make every later pull ask for changes since 2099 (issue 14)."""
    records = [
        {"t": "2027-01-15T07:00:00Z"},
        {"t": "2099-01-01T00:00:00Z"},
        {"t": "2099-01-01T00:00:00.000+0000"},
    ]
    assert max_cursor(records, p("t"), now=NOW) == "2027-01-15T07:00:00Z"
    assert max_cursor([{"t": "2099-01-01T00:00:00"}], p("t"), now=NOW) is None
    assert max_cursor([{"t": NOW + 60}, {"t": 4_070_908_800}], p("t"), now=NOW) == str(
        int(NOW + 60)
    )
    # milliseconds are read as milliseconds
    assert max_cursor([{"t": NOW * 1000}, {"t": 4_070_908_800_000}], p("t"), now=NOW) == str(
        int(NOW * 1000)
    )
    # opaque texts are not dates: kept as they are
    assert max_cursor([{"t": "zz-cursor"}], p("t"), now=NOW) == "zz-cursor"
