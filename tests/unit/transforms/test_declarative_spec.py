"""A malformed declarative mapping is refused when the config is validated, before it is stored."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from npo_integration.registry.config_input import read_config
from npo_integration.transforms.declarative.spec import DeclarativeMapping, FieldRule

OK_OFFERING = {"npo_offering_ref": "id", "title": "name"}


def config_with(mapping: dict[str, Any]) -> str:
    return json.dumps(
        {
            "npo_id": "acme",
            "display_name": "Acme",
            "base_url": "http://127.0.0.1:8900/npos/acme",
            "transform": {"kind": "declarative", "mapping": mapping},
        }
    )


def offering(**fields: Any) -> dict[str, Any]:
    return {"offering": {"fields": {**OK_OFFERING, **fields}}}


def test_a_good_mapping_validates_inside_a_config() -> None:
    config = read_config(json.loads(config_with(offering(kind={"const": "course"}))))
    assert config.sources[0].transform.kind == "declarative"


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({}, "needs at least one of offering, progress, enrolment"),
        ({"offerings": {}}, "Extra inputs are not permitted"),
        (offering(titel="name"), "unknown platform field(s) ['titel']"),
        (
            {"offering": {"fields": {"title": "name"}}},
            "'npo_offering_ref' is required and has no rule",
        ),
        ({"progress": {"fields": {"progress": "p"}}}, "'status' is required and has no rule"),
        (offering(kind={"path": "k", "pathh": "x"}), "Extra inputs are not permitted"),
        (offering(kind={}), "exactly one of path, const, template; got none"),
        (
            offering(kind={"path": "k", "const": "course"}),
            "exactly one of path, const, template; got ['path', 'const']",
        ),
        (offering(kind={"path": "a..b"}), "path 'a..b' is malformed"),
        (offering(url={"template": "x/{id"}), "unclosed '{'"),
        (
            offering(kind={"const": "course", "map": {"a": "course"}}),
            "const cannot be combined with map",
        ),
        (offering(kind={"const": "courses"}), "kind: ['courses'] not in the platform vocabulary"),
        (
            offering(status={"path": "s", "map": {"1": "open", "0": "hidden"}}),
            "['hidden'] not in the platform vocabulary",
        ),
        (
            offering(status={"path": "s", "map": {"1": "open"}, "fallback": "gone"}),
            "['gone'] not in the platform",
        ),
        (offering(status={"path": "s", "fallback": "open"}), "fallback needs a map"),
        (offering(status={"path": "s", "map": {}}), "map is empty"),
        (
            offering(url={"path": "u", "required": True, "default": "x"}),
            "required and default contradict",
        ),
        (
            offering(title={"path": "t", "required": False}),
            "title: the platform requires this field",
        ),
        (offering(starts_at={"path": "s", "date": "whenever"}), "date must be one of iso8601"),
        (
            offering(starts_at={"path": "s", "date": "iso8601", "type": "int"}),
            "date cannot be combined with type",
        ),
        (offering(starts_at={"path": "s", "timezone": "Europe/London"}), "timezone needs date"),
        (
            offering(starts_at={"path": "s", "date": "iso8601", "timezone": "Mars/Olympus"}),
            "unknown timezone",
        ),
        (
            offering(title={"path": "t", "date": "iso8601"}),
            "title: date only applies to date fields",
        ),
        (offering(starts_at={"path": "s", "type": "str"}), "use date, not type"),
        (offering(title={"path": "t", "scale": 2}), "scale and clamp only apply to number fields"),
        (
            offering(capacity={"path": "c", "type": "str", "scale": 2}),
            "scale and clamp need a number",
        ),
        (offering(capacity={"path": "c", "clamp": [5, 1]}), "min <= max"),
        (
            offering(capacity={"path": "c", "type": "decimal"}),
            "Input should be 'int', 'float', 'str' or 'bool'",
        ),
        (
            {**offering(), "offering": {"fields": OK_OFFERING, "filter": {"path": "f"}}},
            "needs exactly one of equals, not_equals, in, not_in, exists; got none",
        ),
        (
            {
                "offering": {
                    "fields": OK_OFFERING,
                    "filter": {"path": "f", "in": ["a"], "equals": "b"},
                }
            },
            "got ['equals', 'in']",
        ),
        (
            {"offering": {"fields": OK_OFFERING, "filter": {"path": "f", "contains": "a"}}},
            "Extra inputs",
        ),
        (
            {"enrolment": {"body": {"x": "{candidate.mail}"}}},
            "body.x: unknown value {candidate.mail}",
        ),
        (
            {"enrolment": {"path_vars": {"id": "{npo_enrolment_ref}"}}},
            "path_vars.id: unknown value {npo_enrolment_ref}",
        ),
        ({"enrolment": {"body": {"a": {"b": ["{oops"]}}}}, "body.a.b[0]: template"),
        ({"enrolment": {"enrolment_ref": {"path": "id"}}}, "enrolment_ref: unknown value {id}"),
        ({"enrolment": {"enrolment_ref": {"const": "x"}}}, "use path or template, not const"),
        (
            {"enrolment": {"enrolment_ref": {"path": "response.id", "type": "int"}}},
            "enrolment_ref is text",
        ),
        (
            {"enrolment": {"unenrol": {"body": {"x": "{response.id}"}}}},
            "unenrol.body.x: unknown value",
        ),
        ({"enrolment": {"method": "POST"}}, "Extra inputs are not permitted"),
    ],
)
def test_malformed_mapping_is_rejected_with_a_clear_message(
    mapping: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError) as info:
        read_config(json.loads(config_with(mapping)))
    assert message in str(info.value)


def test_shorthand_and_compact_round_trip() -> None:
    rule = FieldRule.model_validate("a.b[0]")
    assert rule.path == "a.b[0]"
    assert rule.model_dump() == {"path": "a.b[0]"}
    mapping = DeclarativeMapping.model_validate(
        {
            "offering": {"fields": OK_OFFERING, "filter": {"path": "f", "in": ["a"]}},
            "enrolment": {
                "body": {"x": "{candidate.email}"},
                "unenrol": {"query": {"r": "{npo_enrolment_ref}"}},
                "enrolment_ref": {"path": "response.id"},
            },
        }
    )
    again = DeclarativeMapping.model_validate_json(mapping.model_dump_json())
    assert again == mapping
    assert mapping.model_dump(mode="json")["offering"]["filter"] == [{"path": "f", "in": ["a"]}]
    # a verbose form with every option written out as null, as another
    # writer might produce, validates too
    verbose = mapping.model_dump(mode="json")
    verbose["offering"]["filter"][0].update(equals=None, not_equals=None, not_in=None, exists=None)
    verbose["offering"]["fields"]["title"].update(
        const=None, template=None, map=None, strip_html=False
    )
    assert DeclarativeMapping.model_validate(verbose) == mapping


def test_null_options_mean_not_set() -> None:
    rule = FieldRule.model_validate(
        {"path": "x", "const": None, "map": None, "default": None, "strip_html": False}
    )
    assert rule.path == "x" and rule.const is None
