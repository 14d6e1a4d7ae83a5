"""The declarative mapper: records to platform models, assignments to
requests, errors that say where."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from npo_integration.models.events import CandidateAssignmentEvent
from npo_integration.transforms.contract import TransformError
from npo_integration.transforms.declarative.mapper import DeclarativePlugin
from npo_integration.transforms.declarative.spec import DeclarativeMapping
from npo_integration.transforms.testing import assert_plugin_conforms, sample_assignment

BASE_OFFERING = {"npo_offering_ref": "id", "title": "name"}


def plugin(**sections: Any) -> DeclarativePlugin:
    return DeclarativePlugin(DeclarativeMapping.model_validate(sections))


def offering_plugin(fields: dict[str, Any], filter: Any = None) -> DeclarativePlugin:
    section: dict[str, Any] = {"fields": {**BASE_OFFERING, **fields}}
    if filter is not None:
        section["filter"] = filter
    return plugin(offering=section)


def progress_plugin(fields: dict[str, Any]) -> DeclarativePlugin:
    return plugin(progress={"fields": {"status": {"const": "enrolled"}, **fields}})


def test_nested_paths_list_indexes_and_id_as_text() -> None:
    p = offering_plugin({"npo_offering_ref": "course.ids[0]", "title": "course.names[-1].text"})
    result = p.offering(
        {"course": {"ids": [17, 18], "names": [{"text": "old"}, {"text": "Current"}]}}
    )
    assert result is not None
    assert (result.npo_offering_ref, result.title) == ("17", "Current")


def test_constants_defaults_and_optional_fields() -> None:
    p = offering_plugin(
        {
            "kind": {"const": "mentoring"},
            "description": {"path": "desc", "default": "n/a"},
            "url": "link",
        }
    )
    result = p.offering({"id": "x", "name": "Mentoring circle"})
    assert result is not None
    assert (result.kind, result.description, result.url, result.status) == (
        "mentoring",
        "n/a",
        None,
        "open",
    )


def test_value_map_with_fallback_and_without() -> None:
    with_fallback = offering_plugin(
        {
            "status": {
                "path": "state",
                "map": {"available": "open", "0": "draft"},
                "fallback": "closed",
            }
        }
    )
    assert with_fallback.offering({"id": 1, "name": "n", "state": "available"}).status == "open"  # type: ignore[union-attr]
    assert with_fallback.offering({"id": 1, "name": "n", "state": 0}).status == "draft"  # type: ignore[union-attr]
    assert with_fallback.offering({"id": 1, "name": "n", "state": "weird"}).status == "closed"  # type: ignore[union-attr]
    strict = offering_plugin({"status": {"path": "state", "map": {"available": "open"}}})
    with pytest.raises(TransformError) as info:
        strict.offering({"id": 1, "name": "n", "state": "weird"})
    assert str(info.value) == (
        "field 'offering.status' (NPO path 'state'): "
        "value 'weird' is not in map (known: 'available') "
        "and there is no fallback"
    )


def test_map_to_null_means_missing() -> None:
    p = offering_plugin({"kind": {"path": "k", "map": {"x": None}, "default": "other"}})
    assert p.offering({"id": 1, "name": "n", "k": "x"}).kind == "other"  # type: ignore[union-attr]


def test_numbers_as_strings_and_scaling() -> None:
    p = progress_plugin(
        {
            "progress": {"path": "pct", "type": "float", "scale": 0.01},
            "score": {"path": "score", "type": "float"},
        }
    )
    result = p.progress({"pct": "45", "score": "72.5"})
    assert result is not None and (result.progress, result.score) == (0.45, 72.5)
    already_fraction = progress_plugin({"progress": {"path": "p", "type": "float"}}).progress(
        {"p": "0.45"}
    )
    assert already_fraction is not None and already_fraction.progress == 0.45


def test_clamp_keeps_progress_in_range() -> None:
    p = progress_plugin({"progress": {"path": "pct", "scale": 0.01, "clamp": [0, 1]}})
    assert p.progress({"pct": 104}).progress == 1.0  # type: ignore[union-attr]


def test_out_of_range_progress_names_field_and_path() -> None:
    p = progress_plugin({"progress": {"path": "pct"}})
    with pytest.raises(
        TransformError,
        match=r"field 'progress.progress' \(NPO path 'pct'\): .*less than or equal to 1",
    ):
        p.progress({"pct": 45})


def test_dates_iso_epoch_and_null_if() -> None:
    p = offering_plugin(
        {
            "starts_at": {"path": "start", "date": "epoch_seconds", "null_if": [0]},
            "ends_at": {"path": "end", "date": "epoch_millis", "null_if": [0]},
        }
    )
    result = p.offering({"id": 1, "name": "n", "start": 1799571600, "end": 0})
    assert result is not None
    assert result.starts_at == datetime(2027, 1, 10, 9, tzinfo=UTC) and result.ends_at is None
    implicit = offering_plugin({"starts_at": "start"}).offering(
        {"id": 1, "name": "n", "start": "2027-01-10"}
    )
    assert implicit is not None and implicit.starts_at == datetime(2027, 1, 10, tzinfo=UTC)


def test_date_with_timezone_for_naive_values() -> None:
    p = offering_plugin(
        {"starts_at": {"path": "s", "date": "%Y-%m-%d %H:%M", "timezone": "America/New_York"}}
    )
    result = p.offering({"id": 1, "name": "n", "s": "2027-01-10 09:00"})
    assert result is not None and result.starts_at == datetime(2027, 1, 10, 14, tzinfo=UTC)


def test_strip_html_then_default_for_missing() -> None:
    p = offering_plugin({"description": {"path": "d", "strip_html": True, "default": ""}})
    assert (
        p.offering({"id": 1, "name": "n", "d": "<p>A&amp;B</p>  <p>C</p>"}).description == "A&B C"
    )  # type: ignore[union-attr]
    assert p.offering({"id": 1, "name": "n"}).description == ""  # type: ignore[union-attr]


def test_template_fields() -> None:
    p = offering_plugin(
        {
            "url": {"template": "https://lms.example.org/course/view.php?id={id}&x={{y}}"},
            "title": {"template": "{code}: {name}"},
        }
    )
    result = p.offering({"id": 5, "name": "Intro", "code": "IN-1"})
    assert result is not None
    assert result.url == "https://lms.example.org/course/view.php?id=5&x={y}"
    assert result.title == "IN-1: Intro"
    with pytest.raises(
        TransformError, match=r"field 'offering.title' \(NPO path '\{code\}: \{name\}'\): required"
    ):
        p.offering({"id": 5, "name": "Intro"})


@pytest.mark.parametrize(
    ("condition", "record", "kept"),
    [
        ({"path": "format", "not_in": ["site"]}, {"format": "topics"}, True),
        ({"path": "format", "not_in": ["site"]}, {"format": "site"}, False),
        ({"path": "format", "not_in": ["site"]}, {}, True),
        ({"path": "type", "equals": "Program__c"}, {"type": "Program__c"}, True),
        ({"path": "type", "equals": "Program__c"}, {}, False),
        ({"path": "visible", "equals": 1}, {"visible": "1"}, True),
        ({"path": "state", "not_equals": "deleted"}, {"state": "deleted"}, False),
        ({"path": "state", "in": ["a", "b"]}, {"state": "b"}, True),
        ({"path": "state", "in": ["a", "b"]}, {"state": "c"}, False),
        ({"path": "deleted_at", "exists": False}, {"deleted_at": None}, True),
        ({"path": "deleted_at", "exists": True}, {}, False),
    ],
)
def test_filter(condition: dict[str, Any], record: dict[str, Any], kept: bool) -> None:
    p = offering_plugin({}, filter=condition)
    result = p.offering({"id": 1, "name": "n", **record})
    assert (result is not None) == kept


def test_all_filter_conditions_must_hold() -> None:
    p = offering_plugin({}, filter=[{"path": "a", "equals": 1}, {"path": "b", "equals": 2}])
    assert p.offering({"id": 1, "name": "n", "a": 1, "b": 2}) is not None
    assert p.offering({"id": 1, "name": "n", "a": 1, "b": 3}) is None


def test_filter_on_a_bad_path_is_an_error() -> None:
    p = offering_plugin({}, filter={"path": "a.b", "equals": 1})
    with pytest.raises(
        TransformError, match=r"field 'filter' \(NPO path 'a.b'\): expected an object at 'a'"
    ):
        p.offering({"id": 1, "name": "n", "a": [1]})


@pytest.mark.parametrize(
    ("fields", "record", "message"),
    [
        (
            {},
            {"name": "n"},
            "field 'offering.npo_offering_ref' (NPO path 'id'): required value is missing or null",
        ),
        (
            {},
            {"id": None, "name": "n"},
            "field 'offering.npo_offering_ref' (NPO path 'id'): required",
        ),
        (
            {"title": "a.b"},
            {"id": 1, "a": "text"},
            "field 'offering.title' (NPO path 'a.b'): expected an object at 'a'",
        ),
        (
            {"title": "names[0]"},
            {"id": 1, "names": {"0": "x"}},
            "expected a list at 'names' to take [0], found object",
        ),
        (
            {"title": "t"},
            {"id": 1, "t": {"en": "x"}},
            "field 'offering.title' (NPO path 't'): Input should be a valid string",
        ),
        (
            {"capacity": {"path": "c", "type": "int"}},
            {"id": 1, "name": "n", "c": "twenty"},
            "field 'offering.capacity' (NPO path 'c'): expected a number, found 'twenty'",
        ),
        (
            {"capacity": "c"},
            {"id": 1, "name": "n", "c": -3},
            "field 'offering.capacity' (NPO path 'c'): "
            "Input should be greater than or equal to 0, got -3",
        ),
        (
            {"starts_at": "s"},
            {"id": 1, "name": "n", "s": "next week"},
            "field 'offering.starts_at' (NPO path 's'): "
            "cannot parse 'next week' as an ISO-8601 date",
        ),
        (
            {"starts_at": "s"},
            {"id": 1, "name": "n", "s": 1799571600},
            "set date (e.g. epoch_seconds)",
        ),
        (
            {"starts_at": {"path": "s", "date": "epoch_seconds"}},
            {"id": 1, "name": "n", "s": "soon"},
            "field 'offering.starts_at' (NPO path 's'): expected a number, found 'soon'",
        ),
        (
            {"description": {"path": "d", "strip_html": True}},
            {"id": 1, "name": "n", "d": 5},
            "strip_html needs a string, found number",
        ),
        (
            {"url": {"path": "u", "required": True}},
            {"id": 1, "name": "n"},
            "field 'offering.url' (NPO path 'u'): required",
        ),
    ],
)
def test_errors_name_field_path_and_reason(
    fields: dict[str, Any], record: Any, message: str
) -> None:
    with pytest.raises(TransformError) as info:
        offering_plugin(fields).offering(record)
    assert message in str(info.value)


def test_a_record_that_is_not_an_object() -> None:
    with pytest.raises(
        TransformError, match="expected an object at '<record>' to look up 'id', found list"
    ):
        offering_plugin({}).offering([1, 2])


ENROLMENT_JSON = {
    "path_vars": {"course_id": "{offering.npo_offering_ref}"},
    "query": {"notify": "false"},
    "body": {
        "user": {
            "email": "{candidate.email}",
            "name": "{candidate.first_name} {candidate.last_name}",
            "tags": ["spotlight", "{assignment_id}"],
        },
        "role": 5,
        "active": True,
        "note": None,
    },
    "enrolment_ref": {"path": "response.enrollment.id"},
    "unenrol": {
        "path_vars": {
            "course_id": "{offering.npo_offering_ref}",
            "enrollment_id": "{npo_enrolment_ref}",
        },
        "query": {"task": "delete"},
    },
}


def test_json_enrolment_template(assignment: CandidateAssignmentEvent) -> None:
    p = plugin(enrolment=ENROLMENT_JSON)
    request = p.enrolment_request(assignment)
    assert request.path_vars == {"course_id": "101"}
    assert request.query == {"notify": "false"}
    assert request.body == {
        "user": {
            "email": "ada@example.org",
            "name": "Ada Lovelace",
            "tags": ["spotlight", "asg-0001"],
        },
        "role": 5,
        "active": True,
        "note": None,
    }
    unenrol = p.unenrol_request(assignment, "9001")
    assert (
        unenrol.path_vars == {"course_id": "101", "enrollment_id": "9001"} and unenrol.body is None
    )
    assert p.enrolment_ref({"enrollment": {"id": 9001}}, assignment) == "9001"
    assert p.enrolment_ref({"other": 1}, assignment) is None


def test_form_enrolment_template_with_bracketed_keys(assignment: CandidateAssignmentEvent) -> None:
    p = plugin(
        enrolment={
            "body": {
                "wsfunction": "enrol_manual_enrol_users",
                "enrolments[0][roleid]": "5",
                "enrolments[0][userid]": "{candidate.npo_user_ref}",
                "enrolments[0][courseid]": "{offering.npo_offering_ref}",
            },
            "enrolment_ref": {"template": "{candidate.npo_user_ref}:{offering.npo_offering_ref}"},
        }
    )
    request = p.enrolment_request(assignment)
    assert request.body == {
        "wsfunction": "enrol_manual_enrol_users",
        "enrolments[0][roleid]": "5",
        "enrolments[0][userid]": "42",
        "enrolments[0][courseid]": "101",
    }
    assert p.enrolment_ref(None, assignment) == "42:101"


def test_enrolment_template_missing_value_is_an_error() -> None:
    p = plugin(enrolment={"body": {"enrolments[0][userid]": "{candidate.npo_user_ref}"}})
    with pytest.raises(TransformError) as info:
        p.enrolment_request(sample_assignment(npo_user_ref=None))
    assert str(info.value) == (
        "field 'enrolment.body.enrolments[0][userid]' (NPO path 'candidate.npo_user_ref'): "
        "{candidate.npo_user_ref} has no value"
    )


def test_required_enrolment_ref(assignment: CandidateAssignmentEvent) -> None:
    p = plugin(enrolment={"body": {}, "enrolment_ref": {"path": "response.id", "required": True}})
    with pytest.raises(TransformError, match=r"field 'enrolment_ref' .* required"):
        p.enrolment_ref({"success": False}, assignment)
    with pytest.raises(TransformError, match="expected an object at 'response'"):
        p.enrolment_ref(["not", "an", "object"], assignment)


def test_missing_sections_raise_transform_error(assignment: CandidateAssignmentEvent) -> None:
    p = plugin(enrolment={"body": {}})
    with pytest.raises(TransformError, match="no offering section"):
        p.offering({})
    with pytest.raises(TransformError, match="no progress section"):
        p.progress({})
    with pytest.raises(TransformError, match=re.escape("no enrolment.unenrol")):
        p.unenrol_request(assignment, "1")
    assert p.enrolment_ref({}, assignment) is None
    with pytest.raises(TransformError, match="no enrolment section"):
        plugin(progress={"fields": {"status": {"const": "enrolled"}}}).enrolment_request(assignment)


def test_declarative_plugin_conforms(assignment: CandidateAssignmentEvent) -> None:
    p = plugin(
        offering={
            "filter": {"path": "state", "not_equals": "deleted"},
            "fields": {
                **BASE_OFFERING,
                "status": {"path": "state", "map": {"live": "open"}, "fallback": "draft"},
            },
        },
        progress={
            "fields": {
                "status": {"path": "s", "map": {"done": "completed", "doing": "in_progress"}},
                "progress": {"path": "p", "type": "float", "scale": 0.01},
            }
        },
        enrolment=ENROLMENT_JSON,
    )
    report = assert_plugin_conforms(
        p,
        offerings=[
            {"id": 1, "name": "A", "state": "live"},
            {"id": 2, "name": "B", "state": "paused"},
        ],
        filtered_offerings=[{"id": 3, "name": "C", "state": "deleted"}],
        progress=[{"s": "done", "p": "100"}, {"s": "doing", "p": 5}],
        assignment=assignment,
        enrol_response={"enrollment": {"id": 7}},
    )
    assert [o.status for o in report.offerings] == ["open", "draft"]
    assert report.enrolment_ref == "7"


def test_constants_and_defaults_get_platform_types() -> None:
    p = offering_plugin(
        {"starts_at": {"const": "2027-01-10"}, "npo_offering_ref": {"path": "id", "default": 0}}
    )
    result = p.offering({"name": "n"})
    assert result is not None
    assert result.starts_at == datetime(2027, 1, 10, tzinfo=UTC) and result.npo_offering_ref == "0"
