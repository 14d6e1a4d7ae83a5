"""The example NPO configs validate, load and conform on recorded records."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from npo_integration.models.npo_config import DeclarativeTransform
from npo_integration.registry.config_input import read_config
from npo_integration.transforms.testing import assert_plugin_conforms, sample_assignment

from .conftest import EXAMPLES, RECORDED, example_config

NAMES = sorted(path.stem for path in EXAMPLES.glob("*.json"))


def test_every_expected_example_exists() -> None:
    assert set(NAMES) >= {"simple", "canvas", "moodle", "salesforce"}


@pytest.mark.parametrize("name", NAMES)
def test_example_validates(name: str) -> None:
    config = read_config(json.loads((EXAMPLES / f"{name}.json").read_text()))
    assert config.npo_id == name
    [source] = config.sources
    assert source.base_url == f"http://127.0.0.1:8900/npos/{name}"


@pytest.mark.parametrize("name", NAMES)
def test_example_conforms_on_recorded_records(name: str, recorded_factory, assignment) -> None:
    config = example_config(name)
    report = assert_plugin_conforms(config, assignment=assignment, **recorded_factory(name))
    assert report.offerings and report.progress and report.enrolment is not None


@pytest.mark.parametrize("name", ["moodle", "salesforce"])
def test_declarative_examples_round_trip(name: str) -> None:
    [source] = example_config(name).sources
    assert isinstance(source.transform, DeclarativeTransform)
    dumped = source.transform.model_dump_json()
    assert DeclarativeTransform.model_validate_json(dumped) == source.transform
    assert '"const":null' not in dumped  # stored compactly, as written


def test_moodle_values(recorded_factory, assignment) -> None:
    report = assert_plugin_conforms(
        example_config("moodle"), assignment=assignment, **recorded_factory("moodle")
    )
    web, hidden = report.offerings
    assert web.npo_offering_ref == "2"
    assert web.description == "Build the web & ship it. Twelve weeks."
    assert web.starts_at == datetime(2027, 1, 10, 9, tzinfo=UTC) and web.ends_at is None
    assert web.url == "http://127.0.0.1:8900/npos/moodle/course/view.php?id=2"
    assert (web.status, hidden.status, hidden.starts_at) == ("open", "draft", None)
    first, done = report.progress
    assert (first.npo_enrolment_ref, first.status, first.progress) == ("42:2", "in_progress", 0.45)
    assert (done.status, done.progress) == ("completed", 1.0)
    assert report.enrolment is not None and report.enrolment.body == {
        "wsfunction": "enrol_manual_enrol_users",
        "enrolments[0][roleid]": "5",
        "enrolments[0][userid]": "42",
        "enrolments[0][courseid]": "101",
    }
    assert report.enrolment.query == {"moodlewsrestformat": "json"}
    assert report.enrolment_ref == "42:101"  # Moodle answers null: the ref is derived
    assert report.unenrol is not None and report.unenrol.body is not None
    assert report.unenrol.body["wsfunction"] == "enrol_manual_unenrol_users"


def test_salesforce_values(recorded_factory, assignment) -> None:
    report = assert_plugin_conforms(
        example_config("salesforce"), assignment=assignment, **recorded_factory("salesforce")
    )
    programme, paused = report.offerings
    assert (programme.kind, programme.status, paused.status) == ("programme", "open", "closed")
    assert programme.description == "Twelve weeks of coaching."
    assert programme.starts_at == datetime(2027, 1, 10, tzinfo=UTC)
    engaged, completed = report.progress
    assert (engaged.status, engaged.progress, engaged.npo_user_ref) == (
        "in_progress",
        0.45,
        "ada@example.org",
    )
    assert engaged.updated_at == datetime(2026, 11, 22, 10, tzinfo=UTC)
    assert completed.progress == 1.0
    assert report.enrolment is not None and report.enrolment.body == {
        "Program__c": "101",
        "Contact__r": {"Email": "ada@example.org"},
        "Stage__c": "Enrolled",
    }
    assert report.enrolment_ref == "a0C000000000003AAA"
    assert report.unenrol is not None and report.unenrol.body is None
    assert report.unenrol.path_vars == {"engagement_id": "npo-enrolment-1"}


def test_blackbaud_values(recorded_factory, assignment) -> None:
    report = assert_plugin_conforms(
        example_config("blackbaud"), assignment=assignment, **recorded_factory("blackbaud")
    )
    fair, closed = report.offerings
    assert (fair.status, closed.status, fair.description) == ("open", "closed", "Meet employers.")
    attending, cancelled = report.progress
    assert (attending.status, cancelled.status) == ("enrolled", "withdrawn")
    assert attending.npo_user_ref == "42" and attending.npo_offering_ref == "101"
    assert report.enrolment is not None and report.enrolment.path_vars == {"event_id": "101"}
    assert report.enrolment.body is not None
    assert report.enrolment.body["constituent_id"] == "42"
    assert report.enrolment_ref == "5003"


def test_recorded_files_are_json() -> None:
    for path in RECORDED.glob("*.json"):
        json.loads(path.read_text())


def test_sample_assignment_is_valid() -> None:
    event = sample_assignment(npo_user_ref=None, email=None)
    assert event.candidate.npo_user_ref is None
