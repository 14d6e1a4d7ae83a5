"""The template language: literal text and ``{path}`` placeholders,
rendered by the caller's values."""

from __future__ import annotations

import pytest

from npo_integration.expressions import (
    MISSING,
    Missing,
    Path,
    TemplateSyntaxError,
    parse_path,
    parse_template,
)


def test_parts_are_literals_and_paths() -> None:
    template = parse_template("/c/{parent.course['sis id']}/e?x={{y}}")
    assert template.parts == (
        "/c/",
        Path("parent.course['sis id']", ("parent", "course", "sis id")),
        "/e?x={y}",
    )
    assert template.names == ("parent.course['sis id']",)
    assert template.placeholders == (parse_path("parent.course['sis id']"),)


def test_a_template_is_parsed_once_and_plain_text_has_no_placeholders() -> None:
    assert parse_template("{a}") is parse_template("{a}")
    assert parse_template("plain").parts == ("plain",)
    assert parse_template("").parts == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "template '{': unclosed '{' at character 1"),
        ("a }", "template 'a }': unmatched '}' at character 3"),
        ("{}", "template '{}': path '' is empty or has surrounding spaces"),
        ("{ a }", "template '{ a }': path ' a ' is empty or has surrounding spaces"),
        ("{a..b}", "template '{a..b}': path 'a..b' is malformed at character 3"),
    ],
)
def test_malformed_templates_say_why(text: str, message: str) -> None:
    with pytest.raises(TemplateSyntaxError) as info:
        parse_template(text)
    assert str(info.value) == message


def test_render_fills_each_placeholder_with_the_callers_value() -> None:
    template = parse_template("{a}-{b.c}-{a}")
    assert template.render(lambda placeholder: placeholder.text.upper()) == "A-B.C-A"


def test_a_missing_value_makes_the_whole_text_missing() -> None:
    def value_of(placeholder: Path) -> str | Missing:
        return MISSING if placeholder.text == "b" else "x"

    assert parse_template("{a}{b}").render(value_of) is MISSING


def test_the_callers_error_passes_through() -> None:
    def value_of(placeholder: Path) -> str:
        raise LookupError(placeholder.text)

    with pytest.raises(LookupError, match="a"):
        parse_template("{a}").render(value_of)
