"""Every path and template in an NPO config is parsed when the config is validated."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from npo_integration.models.npo_config import StreamConfig
from npo_integration.registry.config_input import read_config


def config(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "npo_id": "acme",
        "display_name": "Acme",
        "base_url": "https://api.acme.example/v1",
        "streams": {"offerings": {"path": "/offerings", "records_path": "data"}},
        "transform": {"kind": "plugin", "name": "simple"},
    }
    base.update(overrides)
    return base


def stream(**settings: Any) -> dict[str, Any]:
    return {"offerings": {"path": "/offerings", **settings}}


def enrolment(**settings: Any) -> dict[str, Any]:
    return {"enabled": True, "enrol": {"path": "/enrol"}, **settings}


def refusal(document: dict[str, Any]) -> tuple[str, str]:
    """The one error: its location (the field) and its message."""
    with pytest.raises(ValidationError) as caught:
        read_config(document)
    errors = caught.value.errors()
    assert len(errors) == 1, errors
    return ".".join(str(part) for part in errors[0]["loc"]), errors[0]["msg"]


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        (
            {"streams": stream(records_path="data..items")},
            "streams.offerings.records_path",
            "path 'data..items' is malformed at character 6",
        ),
        (
            {"streams": stream(record_id_path="")},
            "streams.offerings.record_id_path",
            "path '' is empty or has surrounding spaces",
        ),
        (
            {"streams": stream(incremental={"cursor_field": "meta[updated]"})},
            "streams.offerings.incremental.cursor_field",
            "path 'meta[updated]' is malformed at character 5",
        ),
        (
            {"streams": stream(pagination={"style": "body_cursor", "cursor_path": "meta."})},
            "streams.offerings.pagination.body_cursor.cursor_path",
            "path 'meta.' ends with '.'",
        ),
        (
            {"streams": stream(pagination={"style": "next_url", "next_url_path": " next"})},
            "streams.offerings.pagination.next_url.next_url_path",
            "path ' next' is empty or has surrounding spaces",
        ),
        (
            {"streams": stream(path="/courses/{parent.id/e", parent_stream="offerings")},
            "streams.offerings.path",
            "unclosed '{' at character 10",
        ),
        (
            {"streams": stream(params={"q": "x > {cursor"})},
            "streams.offerings.params.q",
            "unclosed '{' at character 5",
        ),
        (
            {"error_in_body": {"path": "error[0"}},
            "error_in_body.path",
            "path 'error[0' is malformed at character 6",
        ),
        (
            {"enrolment": enrolment(enrol={"path": "/e", "response_id_path": "data.[x]"})},
            "enrolment.enrol.response_id_path",
            "path 'data.[x]' is malformed at character 6",
        ),
        (
            {"enrolment": enrolment(enrol={"path": "/courses/{course_id/enrol"})},
            "enrolment.enrol.path",
            "unclosed '{' at character 10",
        ),
        (
            {"enrolment": enrolment(lookup={"path": "/e", "records_path": "data..x"})},
            "enrolment.lookup.records_path",
            "path 'data..x' is malformed",
        ),
        (
            {"enrolment": enrolment(lookup={"path": "/e", "params": {"u": "{candidate..email}"}})},
            "enrolment.lookup.params.u",
            "path 'candidate..email' is malformed",
        ),
    ],
)
def test_a_malformed_path_or_template_is_refused_naming_the_field(
    overrides: dict[str, Any], field: str, message: str
) -> None:
    where, reason = refusal(config(**overrides))
    assert where == field
    assert message in reason


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"path": "/changes/{cursor}"}, "path: {cursor} needs incremental"),
        ({"params": {"course": "{parent.id}"}}, "params.course: {parent.id} needs parent_stream"),
        (
            {"path": "/c/{course_id}"},
            "path: unknown value {course_id}; use {cursor}, {parent.FIELD} or {page.NAME}",
        ),
        ({"path": "/c/{parent}", "parent_stream": "offerings"}, "unknown value {parent}"),
        (
            {"params": {"q": "{page.offset}"}},
            "params.q: {page.offset} is not a page value of pagination style 'none' in params",
        ),
        (
            {"params": {"q": "{page.number}"}, "pagination": {"style": "offset"}},
            "(it has: {page.offset}, {page.limit})",
        ),
        (
            {"path": "/c/{page.offset}", "pagination": {"style": "offset"}},
            "path: {page.offset} is not a page value",
        ),
    ],
)
def test_a_stream_template_may_use_only_the_cursor_and_the_parent(
    settings: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message.replace("{", r"\{").replace("}", r"\}")):
        StreamConfig.model_validate({"name": "s", "kind": "offerings", "path": "/x", **settings})


def test_good_paths_and_templates_validate_and_stay_text() -> None:
    parsed = read_config(
        config(
            streams={
                "offerings": {"path": "/courses", "records_path": ""},
                "assignments": {
                    "path": "/courses/{parent.id}/enrolments",
                    "params": {"q": "WHERE t > {cursor}", "filter": '{{"state": "active"}}'},
                    "records_path": 'data["items.all"]',
                    "record_id_path": "[0]",
                    "parent_stream": "offerings",
                    "incremental": {"cursor_field": "meta.updated_at", "initial": "0"},
                },
            }
        )
    )
    found = parsed.stream("assignments")
    assert found is not None
    assignments = found[1]
    assert assignments.records_path == 'data["items.all"]'
    assert assignments.params["filter"] == '{{"state": "active"}}'
    [source] = parsed.model_dump(mode="json")["sources"]
    assert source["streams"][0]["records_path"] == ""
