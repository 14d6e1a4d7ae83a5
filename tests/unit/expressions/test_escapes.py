"""Escaping a template's values for where the text goes: values only, never the template's text."""

from __future__ import annotations

import json

import pytest

from npo_integration.expressions import (
    QUOTES,
    EscapeError,
    check_quoted_template,
    parse_template,
    soql_literal,
    url_path_segment,
)


def test_render_escapes_the_values_and_not_the_template_text() -> None:
    template = parse_template("/a b/{x}?{y}")
    values = {"x": "1/2", "y": "c d"}
    assert template.render(lambda p: values[p.text], escape=url_path_segment) == "/a b/1%2F2?c%20d"
    assert template.render(lambda p: values[p.text]) == "/a b/1/2?c d"


def test_an_escape_refusal_names_the_placeholder() -> None:
    with pytest.raises(EscapeError, match=r"^\{x\}: '\.\.' is not a usable URL path segment$"):
        parse_template("/users/{x}").render(lambda p: "..", escape=url_path_segment)


@pytest.mark.parametrize(
    ("value", "segment"),
    [
        ("a/b", "a%2Fb"),
        ("q?x=1&y", "q%3Fx%3D1%26y"),
        ("Ada Lovelace", "Ada%20Lovelace"),
        ("100%#frag", "100%25%23frag"),
        ("é", "%C3%A9"),
        ("...", "..."),
    ],
)
def test_url_path_segment(value: str, segment: str) -> None:
    assert url_path_segment(value) == segment


@pytest.mark.parametrize("value", ["", ".", ".."])
def test_url_path_segment_refuses_values_that_are_no_segment(value: str) -> None:
    with pytest.raises(EscapeError):
        url_path_segment(value)


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("ada@example.org", "'ada@example.org'"),
        ("x'OR'1'='1@example.org", r"'x\'OR\'1\'=\'1@example.org'"),
        ("back\\slash", r"'back\\slash'"),
        ("\\'", r"'\\\''"),  # the backslash first, so the quote's escape is not undone
        ('say "hi"', r"'say \"hi\"'"),
        ("a\nb\rc\td", r"'a\nb\rc\td'"),
        ("bell\x07", r"'bell\u0007'"),
        ("50%_off", "'50%_off'"),  # wildcards only in LIKE: left as they are
        ("", "''"),
    ],
)
def test_soql_literal(value: str, literal: str) -> None:
    assert soql_literal(value) == literal


@pytest.mark.parametrize(
    "text",
    [
        "WHERE Email = {e}",
        "WHERE Email = {e} AND Name != 'O\\'Brien {{x}}' AND Id = {i}",
        "WHERE Note = 'a\\\\' AND Email = {e}",  # an escaped backslash ends with the quote
    ],
)
def test_a_soql_template_with_placeholders_outside_literals_is_fine(text: str) -> None:
    check_quoted_template(parse_template(text), "soql")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("WHERE Email = '{e}'", "{e} is inside a quoted string"),
        ("WHERE Note = 'it\\'s {e}'", "{e} is inside a quoted string"),
        ("WHERE Email = {e} AND x = 'open", "leaves a quote open"),
    ],
)
def test_a_soql_template_that_would_nest_literals_is_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("{", r"\{").replace("}", r"\}")):
        check_quoted_template(parse_template(text), "soql")


def test_json_literal_is_a_whole_json_string_and_must_stand_outside_quotes() -> None:
    assert QUOTES["json"]('O"Brien\n\\') == '"O\\"Brien\\n\\\\"'
    assert json.loads(QUOTES["json"]('a"], ["id", ">", 0')) == 'a"], ["id", ">", 0'
    check_quoted_template(parse_template('{{"where":[["contact_id","=",{c}]]}}'), "json")
    with pytest.raises(ValueError, match="inside a quoted string"):
        check_quoted_template(parse_template('{{"where":[["contact_id","=","{c}"]]}}'), "json")
