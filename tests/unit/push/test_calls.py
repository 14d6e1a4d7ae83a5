"""Building the enrol/unenrol HTTP call from the endpoint config and the plug-in's request."""

from __future__ import annotations

import pytest

from npo_integration.models.npo_config import EnrolmentEndpoint
from npo_integration.push.calls import (
    EnrolmentCallError,
    build_call,
    fill_path,
    form_fields,
    ref_at,
)
from npo_integration.transforms.contract import EnrolmentRequest


def test_path_variables_are_url_quoted_whole_so_a_value_cannot_add_segments() -> None:
    path = fill_path("/courses/{course_id}/enrollments/{id}", {"course_id": "a/b c", "id": "7?x=1"})
    assert path == "/courses/a%2Fb%20c/enrollments/7%3Fx%3D1"


def test_dotted_placeholder_names_are_filled() -> None:
    assert fill_path("/o/{offering.npo_ref}", {"offering.npo_ref": "c-1"}) == "/o/c-1"


@pytest.mark.parametrize("value", ["", ".", ".."])
def test_an_empty_or_dot_segment_is_refused(value: str) -> None:
    with pytest.raises(EnrolmentCallError, match="not a usable path segment"):
        fill_path("/api/enrolments/{enrolment_id}", {"enrolment_id": value})


def test_a_missing_path_variable_is_named() -> None:
    with pytest.raises(EnrolmentCallError, match=r"needs path_vars \['course_id'\]"):
        fill_path("/courses/{course_id}/enrollments", {"other": "x"})


def test_flat_form_fields_with_bracketed_keys_pass_through_in_order() -> None:
    body = {
        "wsfunction": "enrol_manual_enrol_users",
        "enrolments[0][roleid]": "5",
        "enrolments[0][userid]": 42,
        "enrolments[0][courseid]": "7",
    }
    assert form_fields(body) == [
        ("wsfunction", "enrol_manual_enrol_users"),
        ("enrolments[0][roleid]", "5"),
        ("enrolments[0][userid]", "42"),
        ("enrolments[0][courseid]", "7"),
    ]


def test_nested_form_bodies_are_flattened_to_bracket_notation() -> None:
    body = {"enrollment": {"user_id": 5, "notify": False, "skip": None}, "tags": ["a", "b"]}
    assert form_fields(body) == [
        ("enrollment[user_id]", "5"),
        ("enrollment[notify]", "false"),
        ("tags[0]", "a"),
        ("tags[1]", "b"),
    ]


def test_json_body_with_query_and_path() -> None:
    endpoint = EnrolmentEndpoint(
        method="POST", path="/courses/{course_id}/enrol", body_format="json"
    )
    request = EnrolmentRequest(
        path_vars={"course_id": "12"}, body={"a": {"b": 1}}, query={"x": "y"}
    )
    call = build_call(endpoint, request)
    assert (call.method, call.path, call.params) == ("POST", "/courses/12/enrol", {"x": "y"})
    assert call.json == {"a": {"b": 1}} and call.form is None


def test_form_body_format_sends_fields_not_json() -> None:
    endpoint = EnrolmentEndpoint(path="/enrol", body_format="form")
    call = build_call(endpoint, EnrolmentRequest(body={"enrollment[user_id]": "5"}))
    assert call.form == [("enrollment[user_id]", "5")] and call.json is None


def test_body_format_none_sends_no_body_even_if_the_plugin_built_one() -> None:
    endpoint = EnrolmentEndpoint(method="DELETE", path="/e/{enrolment_id}", body_format="none")
    call = build_call(endpoint, EnrolmentRequest(path_vars={"enrolment_id": "e1"}, body={"x": 1}))
    assert (call.method, call.path, call.json, call.form) == ("DELETE", "/e/e1", None, None)


@pytest.mark.parametrize(
    ("body", "path", "expected"),
    [
        ({"enrolment_id": "enr-9"}, "enrolment_id", "enr-9"),
        ({"data": [{"id": 5001}]}, "data[0].id", "5001"),
        ({"id": None}, "id", None),
        ({"id": {"nested": 1}}, "id", None),
        (None, "id", None),
        ({"id": "x"}, None, None),
    ],
)
def test_the_enrolment_id_is_read_from_the_response(
    body: object, path: str | None, expected: str | None
) -> None:
    assert ref_at(body, path) == expected
