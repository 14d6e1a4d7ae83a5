"""Paths, templates and value conversions of the declarative mapper."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from npo_integration.expressions import (
    MISSING,
    Path,
    PathError,
    PathSyntaxError,
    TemplateSyntaxError,
    format_steps,
    parse_path,
    parse_template,
)
from npo_integration.transforms.declarative import coerce

RECORD = {
    "a": {"b": [{"c": 1}, {"c": 2}]},
    "Contact__r": {"Email": "x@example.org"},
    "key.with.dots": "dotted",
    "nothing": None,
    "text": "hello",
}


@pytest.mark.parametrize(
    ("path", "steps"),
    [
        ("a", ("a",)),
        ("a.b[0].c", ("a", "b", 0, "c")),
        ("a.b[-1]", ("a", "b", -1)),
        ("[0].id", (0, "id")),
        ('["key.with.dots"]', ("key.with.dots",)),
        ("x['y z'].w", ("x", "y z", "w")),
        ("Stage With Space", ("Stage With Space",)),
    ],
)
def test_parse_path(path: str, steps: tuple) -> None:
    assert parse_path(path).steps == steps


@pytest.mark.parametrize("path", ["", " a", "a.", ".a", "a..b", "a[x]", "a[0]b", "a[", "a]", "{a}"])
def test_parse_path_rejects_malformed(path: str) -> None:
    with pytest.raises(PathSyntaxError):
        parse_path(path)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("a.b[0].c", 1),
        ("a.b[-1].c", 2),
        ("Contact__r.Email", "x@example.org"),
        ('["key.with.dots"]', "dotted"),
        ("a.b[5].c", MISSING),
        ("absent", MISSING),
        ("nothing", MISSING),
        ("nothing.deeper", MISSING),
    ],
)
def test_resolve(path: str, value: object) -> None:
    assert parse_path(path).get_strict(RECORD) == value


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("a.b.c", "expected an object at 'a.b' to look up 'c', found list"),
        ("text[0]", "expected a list at 'text' to take [0], found string"),
        ("a[0]", "expected a list at 'a' to take [0], found object"),
    ],
)
def test_resolve_reports_shape_mismatch(path: str, message: str) -> None:
    with pytest.raises(PathError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_path(path).get_strict(RECORD)


def test_format_steps_round_trips() -> None:
    for text in ("a.b[0].c", '["key.with.dots"].x'):
        assert parse_path(format_steps(parse_path(text).steps)).steps == parse_path(text).steps


def test_parse_template() -> None:
    parts = parse_template("{{literal}} {candidate.email} at {offering.npo_offering_ref}").parts
    assert parts[0] == "{literal} "
    assert parts[1] == Path("candidate.email", ("candidate", "email"))
    assert parts[3].steps == ("offering", "npo_offering_ref")


@pytest.mark.parametrize("text", ["{", "}", "{}", "a {b", "{a..b}", "x } y"])
def test_parse_template_rejects_malformed(text: str) -> None:
    with pytest.raises(TemplateSyntaxError):
        parse_template(text)


def test_strip_html() -> None:
    html = (
        "<div><p>Build the <em>web</em> &amp; ship&nbsp;it.</p>\n<p>Twelve&#8203; weeks.</p><br/>"
        "<script>alert(1)</script><style>p{}</style>Done&lt;3</div>"
    )
    assert coerce.strip_html(html) == "Build the web & ship it. Twelve\u200b weeks. Done<3"
    assert coerce.strip_html("<li>a</li><li>b</li>") == "a b"
    assert coerce.strip_html("plain   text\n") == "plain text"
    with pytest.raises(coerce.CoercionError, match="needs a string, found number"):
        coerce.strip_html(5)


_FRAGMENT_PARTS = st.one_of(
    st.sampled_from(
        [
            "<p>",
            "</p>",
            "<br/>",
            "<br>",
            "<BR >",
            "<li>",
            "</li>",
            "<em>",
            "</em>",
            "<Div>",
            "</div >",
            '<a href="https://x.org/?a=1&amp;b=2">',
            "</a>",
            "<img src=x.png/>",
            "<p class='lead' hidden>",
            '<a title="a>b">',
            "<!-- <p> -->",
            "<script>",
            "</script>",
            "<style>",
            "<template>",
            "</template>",
            "<my-tag>",
            "< p>",
            "<p",
            "<",
            ">",
            "&amp;",
            "&lt;",
            "&nbsp;",
            "&#8203;",
            "&#x41;",
            "&amp",
            "&bogus;",
            "&",
            " ",
            "\n",
            "\t",
            "<![CDATA[x]]>",
            "<?php ?>",
            "<!DOCTYPE html>",
            "</>",
            "<p/>",
            "<textarea>",
        ]
    ),
    st.text(max_size=8),
)


@given(st.lists(_FRAGMENT_PARTS, max_size=24).map("".join))
def test_strip_html_fast_path_equals_the_parser(fragment: str) -> None:
    """The parser-free path for plain fragments answers what the HTML parser answers, or
    leaves the fragment to it."""
    fast = coerce._plain_fragment_text(fragment)
    if fast is not None:
        assert " ".join(fast.split()) == " ".join(coerce._parsed_text(fragment).split())


def test_strip_html_takes_the_fast_path_for_plain_fragments() -> None:
    plain = '<p class="x">Jobs &amp; skills</p><ul><li>6 weeks</li></ul>'
    assert (coerce._plain_fragment_text(plain) or "").split() == [
        "Jobs",
        "&",
        "skills",
        "6",
        "weeks",
    ]
    for needs_parser in ("<!-- c --><p>x</p>", "a < b", "<script>x</script>", '<a t="<">'):
        assert coerce._plain_fragment_text(needs_parser) is None


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("int", "42", 42),
        ("int", " 42.0 ", 42),
        ("int", 7.0, 7),
        ("int", True, 1),
        ("float", "0.45", 0.45),
        ("float", 3, 3.0),
        ("str", 42, "42"),
        ("str", 4.0, "4"),
        ("str", True, "true"),
        ("bool", "yes", True),
        ("bool", 0, False),
        ("bool", "FALSE", False),
    ],
)
def test_converters(kind: str, value: object, expected: object) -> None:
    result = coerce.CONVERTERS[kind](value)
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        ("int", "4.5", "expected an integer"),
        ("int", "abc", "expected a number"),
        ("float", "nan", "finite"),
        ("float", True, "expected a number, found boolean"),
        ("float", [1], "found list"),
        ("str", {"a": 1}, "expected text, found object"),
        ("bool", "maybe", "expected a boolean"),
    ],
)
def test_converters_reject(kind: str, value: object, message: str) -> None:
    with pytest.raises(coerce.CoercionError, match=message):
        coerce.CONVERTERS[kind](value)


def test_scale_is_exact_in_decimal() -> None:
    assert coerce.scale(45, 0.01) == 0.45
    assert coerce.scale("7", 0.1) == 0.7


@pytest.mark.parametrize(
    ("value", "fmt", "expected"),
    [
        ("2026-11-20T10:00:00.000+0000", "iso8601", datetime(2026, 11, 20, 10, tzinfo=UTC)),
        ("2026-11-20T11:00:00+01:00", "iso8601", datetime(2026, 11, 20, 10, tzinfo=UTC)),
        ("2026-11-20T10:00:00Z", "iso8601", datetime(2026, 11, 20, 10, tzinfo=UTC)),
        ("2027-01-10", "iso8601", datetime(2027, 1, 10, tzinfo=UTC)),
        (1799571600, "epoch_seconds", datetime(2027, 1, 10, 9, tzinfo=UTC)),
        ("1799571600", "epoch_seconds", datetime(2027, 1, 10, 9, tzinfo=UTC)),
        (1799571600500, "epoch_millis", datetime(2027, 1, 10, 9, 0, 0, 500000, tzinfo=UTC)),
        ("10/01/2027 09:30", "%d/%m/%Y %H:%M", datetime(2027, 1, 10, 9, 30, tzinfo=UTC)),
    ],
)
def test_parse_date(value: object, fmt: str, expected: datetime) -> None:
    parsed = coerce.parse_date(value, fmt)
    assert parsed == expected and parsed.tzinfo is UTC


def test_parse_date_naive_in_a_zone() -> None:
    parsed = coerce.parse_date("2027-07-01T10:00:00", "iso8601", ZoneInfo("Europe/London"))
    assert parsed == datetime(2027, 7, 1, 9, tzinfo=UTC)
    aware = coerce.parse_date("2027-07-01T10:00:00+02:00", "iso8601", ZoneInfo("Europe/London"))
    assert aware == datetime(2027, 7, 1, 10, tzinfo=timezone(timedelta(hours=2)))


@pytest.mark.parametrize(
    ("value", "fmt", "message"),
    [
        ("2027-13-45", "iso8601", "cannot parse '2027-13-45' as an ISO-8601 date"),
        (1799571600, "iso8601", "expected a date string"),
        ("soon", "epoch_seconds", "expected a number"),
        (1e20, "epoch_seconds", "out of range"),
        ("2027-01-10", "%d/%m/%Y", "a date in format '%d/%m/%Y'"),
    ],
)
def test_parse_date_rejects(value: object, fmt: str, message: str) -> None:
    with pytest.raises(coerce.CoercionError, match=message):
        coerce.parse_date(value, fmt)
