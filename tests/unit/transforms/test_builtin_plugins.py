"""The built-in code plug-ins on recorded records, through the conformance kit."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from npo_integration.models.events import CandidateAssignmentEvent
from npo_integration.transforms.contract import TransformError
from npo_integration.transforms.plugins.canvas import CanvasPlugin
from npo_integration.transforms.plugins.civicrm import CiviCrmPlugin
from npo_integration.transforms.plugins.simple import SimplePlugin
from npo_integration.transforms.testing import assert_plugin_conforms, sample_assignment

from .conftest import example_config


def test_simple_conforms_and_maps(recorded_factory, assignment: CandidateAssignmentEvent) -> None:
    report = assert_plugin_conforms(
        SimplePlugin({}),
        assignment=assignment,
        config=example_config("simple"),
        **recorded_factory("simple"),
    )
    python, mentoring = report.offerings
    assert python.description == "Learn Python & friends."
    assert python.starts_at == datetime(2027, 1, 10, tzinfo=UTC)
    assert (python.capacity, python.kind, mentoring.npo_offering_ref, mentoring.kind) == (
        20,
        "course",
        "7",
        "mentoring",
    )
    assert [(p.status, p.progress) for p in report.progress] == [
        ("enrolled", 0.0),
        ("in_progress", 0.45),
        ("completed", 1.0),
    ]
    assert report.enrolment is not None and report.enrolment.body == {
        "candidate": {
            "email": "ada@example.org",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "external_id": "42",
        },
        "offering_id": "101",
    }
    assert report.unenrol is not None and report.unenrol.path_vars == {
        "enrolment_id": "npo-enrolment-1"
    }
    assert report.enrolment_ref == "enr-9"


def test_simple_uses_the_platform_candidate_id_without_an_npo_ref() -> None:
    request = SimplePlugin().enrolment_request(sample_assignment(npo_user_ref=None))
    assert request.body is not None
    assert request.body["candidate"]["external_id"] == "cand-0001"  # type: ignore[index]
    with pytest.raises(TransformError, match=r"field 'candidate\.email'.*requires an email"):
        SimplePlugin().enrolment_request(sample_assignment(email=None))


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (
            {"title": "x"},
            "field 'offering.npo_offering_ref' (NPO path 'id'): required value is missing",
        ),
        ({"id": 1, "title": ""}, "field 'offering.title' (NPO path 'title'): required"),
        (
            {"id": 1, "title": "x", "starts_on": "10/01/2027"},
            "field 'offering.starts_at' (NPO path 'starts_on')",
        ),
        (
            {"id": 1, "title": "x", "capacity": -1},
            "field 'offering.capacity' (NPO path 'capacity')",
        ),
        ("not an object", "expected the offering to be an object, found string"),
    ],
)
def test_simple_offering_errors(record: object, message: str) -> None:
    with pytest.raises(TransformError) as info:
        SimplePlugin().offering(record)
    assert message in str(info.value)


def test_simple_progress_errors() -> None:
    with pytest.raises(TransformError, match="unknown state 'paused'"):
        SimplePlugin().progress({"enrolment_id": 1, "state": "paused"})
    with pytest.raises(
        TransformError, match=r"'progress.progress' \(NPO path 'percent'\): expected a number"
    ):
        SimplePlugin().progress({"enrolment_id": 1, "state": "enrolled", "percent": "lots"})


def test_simple_rejects_unknown_options() -> None:
    with pytest.raises(ValueError, match="Extra inputs"):
        SimplePlugin({"colour": "blue"})


def test_canvas_conforms_and_maps(recorded_factory, assignment: CandidateAssignmentEvent) -> None:
    plugin = CanvasPlugin({"course_url": "https://canvas.example.org/courses/{id}"})
    report = assert_plugin_conforms(
        plugin, assignment=assignment, config=example_config("canvas"), **recorded_factory("canvas")
    )
    literacy, draft, done = report.offerings
    assert literacy.npo_offering_ref == "101"
    assert literacy.description == "Read data. Tell stories with it."
    assert literacy.url == "https://canvas.example.org/courses/101"
    assert literacy.ends_at == datetime(2027, 3, 31, 17, tzinfo=UTC)
    assert [o.status for o in report.offerings] == ["open", "draft", "closed"]
    assert draft.description == "" and done.kind == "course"
    active, invited, completed = report.progress
    assert (active.status, active.score, active.progress, active.npo_user_ref) == (
        "in_progress",
        72.5,
        None,
        "42",
    )
    assert (invited.status, completed.status, completed.progress) == ("enrolled", "completed", 1.0)
    assert report.enrolment is not None
    assert report.enrolment.path_vars == {"course_id": "101"}
    assert report.enrolment.body == {
        "enrollment[user_id]": "42",
        "enrollment[type]": "StudentEnrollment",
        "enrollment[enrollment_state]": "active",
    }
    assert report.unenrol is not None
    assert report.unenrol.path_vars == {"course_id": "101", "enrollment_id": "npo-enrolment-1"}
    assert report.unenrol.query == {"task": "delete"}
    assert report.enrolment_ref == "5010"


def test_canvas_without_npo_user_id_uses_the_sis_id() -> None:
    body = CanvasPlugin().enrolment_request(sample_assignment(npo_user_ref=None)).body
    assert body is not None and body["enrollment[user_id]"] == "sis_user_id:cand-0001"
    with pytest.raises(TransformError, match="Canvas enrols by user id"):
        CanvasPlugin({"sis_fallback": False}).enrolment_request(
            sample_assignment(npo_user_ref=None)
        )


def test_canvas_errors_and_options() -> None:
    with pytest.raises(TransformError, match="unknown workflow_state 'archived'"):
        CanvasPlugin().offering({"id": 1, "name": "x", "workflow_state": "archived"})
    with pytest.raises(TransformError, match=r"'progress.score' \(NPO path 'grades'\)"):
        CanvasPlugin().progress({"id": 1, "enrollment_state": "active", "grades": [1]})
    with pytest.raises(TransformError, match="unknown enrollment_state 'limbo'"):
        CanvasPlugin().progress({"id": 1, "enrollment_state": "limbo"})
    body = CanvasPlugin({"notify": False}).enrolment_request(sample_assignment()).body
    assert body is not None and body["enrollment[notify]"] == "false"
    conclude = CanvasPlugin({"unenrol_task": "conclude"}).unenrol_request(sample_assignment(), "9")
    assert conclude.query == {"task": "conclude"}
    with pytest.raises(ValueError, match="unenrol_task"):
        CanvasPlugin({"unenrol_task": "nuke"})


def test_civicrm_conforms_and_maps(assignment: CandidateAssignmentEvent) -> None:
    plugin = CiviCrmPlugin({"event_url": "https://crm.example.org/civicrm/event/info?id={id}"})
    event = {
        "id": 101,
        "title": "Data literacy",
        "summary": "Read data",
        "description": "<p>Read data.</p>",
        "start_date": "2027-01-10 09:00:00",
        "end_date": "2027-01-11 17:00:00",
        "is_active": True,
        "max_participants": 20,
    }
    participant = {
        "id": 5001,
        "contact_id": 42,
        "event_id": 101,
        "status_id:name": "Attended",
        "register_date": "2026-11-02 10:00:00",
    }
    report = assert_plugin_conforms(
        plugin,
        offerings=[event],
        progress=[participant],
        assignment=assignment,
        enrol_response={"values": [{"id": 5002}], "count": 1, "version": 4},
        npo_enrolment_ref="5002",
    )
    [offering] = report.offerings
    assert (offering.npo_offering_ref, offering.status, offering.capacity) == ("101", "open", 20)
    assert offering.starts_at == datetime(2027, 1, 10, 9, tzinfo=UTC)
    assert offering.url == "https://crm.example.org/civicrm/event/info?id=101"
    [progress] = report.progress
    assert (progress.status, progress.progress, progress.npo_user_ref) == ("completed", 1.0, "42")
    assert report.enrolment is not None and report.enrolment.body is not None
    assert json.loads(report.enrolment.body["params"]) == {
        "values": {
            "contact_id": 42,
            "event_id": 101,
            "status_id:name": "Registered",
            "role_id:name": ["Attendee"],
        }
    }
    assert report.enrolment_ref == "5002"
    assert report.unenrol is not None and report.unenrol.body is not None
    assert json.loads(report.unenrol.body["params"]) == {"where": [["id", "=", 5002]]}


def test_civicrm_puts_nothing_but_whole_ids_into_params() -> None:
    injected = sample_assignment(npo_user_ref='42", "is_test": "1')
    with pytest.raises(TransformError, match="CiviCRM ids are whole numbers"):
        CiviCrmPlugin().enrolment_request(injected)
    with pytest.raises(ValueError, match="unknown time zone"):
        CiviCrmPlugin({"timezone": "Mars/Olympus"})
