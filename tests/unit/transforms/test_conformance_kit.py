"""The conformance kit finds what is wrong with a plug-in, all at once."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from npo_integration.models.events import CandidateAssignmentEvent, Offering, Progress
from npo_integration.transforms.contract import CONTRACT_VERSION, EnrolmentRequest, TransformError
from npo_integration.transforms.testing import (
    ConformanceError,
    assert_plugin_conforms,
    load_recorded,
)

from .conftest import RECORDED, example_config


class Sloppy:
    """Gets many things wrong, each triggered by a record."""

    name = "sloppy"
    contract_version = CONTRACT_VERSION

    def __init__(self) -> None:
        self.counter = itertools.count()

    def offering(self, record: Any) -> Offering | None:
        if record.get("raise") == "key":
            return record["missing"]  # KeyError, not TransformError
        if record.get("raise") == "transform":
            raise TransformError("no title", field="offering.title", path="t")
        if record.get("mutate"):
            record["seen"] = True
        if record.get("random"):
            return Offering(npo_offering_ref=str(next(self.counter)), title="t")
        if record.get("unvalidated"):
            return Offering.model_construct(npo_offering_ref="", title="")
        if record.get("skip"):
            return None
        return Offering(npo_offering_ref="1", title="Fine")

    def progress(self, record: Any) -> Progress | None:
        return Progress(status="enrolled") if record.get("keep") else None

    def enrolment_request(self, assignment: CandidateAssignmentEvent) -> EnrolmentRequest:
        return EnrolmentRequest(body={"enrolments": [{"userid": "42"}]})

    def unenrol_request(
        self, assignment: CandidateAssignmentEvent, npo_enrolment_ref: str
    ) -> EnrolmentRequest:
        return EnrolmentRequest(body={"x": "y"})

    def enrolment_ref(self, response_body: Any, assignment: CandidateAssignmentEvent) -> str | None:
        return None


def test_kit_lists_every_problem(assignment: CandidateAssignmentEvent) -> None:
    with pytest.raises(ConformanceError) as info:
        assert_plugin_conforms(
            Sloppy(),
            offerings=[
                {},
                {"raise": "key"},
                {"raise": "transform"},
                {"mutate": True},
                {"random": True},
                {"unvalidated": True},
                {"skip": True},
            ],
            filtered_offerings=[{"raise": "key"}, {}],
            progress=[{"keep": True}],
            filtered_progress=[{"keep": False}],
            assignment=assignment,
            enrol_response={"id": 1},
            config=example_config("canvas"),
        )
    problems = info.value.problems
    expected = [
        "offering(records[1]): raised KeyError: 'missing' (plug-ins must raise TransformError)",
        "offering(records[2]): raised TransformError: "
        "field 'offering.title' (NPO path 't'): no title",
        "offering(records[3]): modified its input",
        "offering(records[4]): gave different results for the same input",
        "offering(records[5]): returned an invalid Offering",
        "offering(records[6]): returned None; list filtered records separately",
        "offering(filtered[0]): raised KeyError",
        "offering(filtered[1]): expected None (filtered out), got Offering(",
        "enrolment_request: endpoint path '/api/v1/courses/{course_id}/enrollments' "
        "needs path_vars['course_id']",
        "enrolment_request: form bodies must be flat; nested fields ['enrolments']",
        "unenrol_request: endpoint path '/api/v1/courses/{course_id}/enrollments/{enrollment_id}' "
        "needs",
        "unenrol_request: body_format is none but a body was returned",
        "enrolment_ref: expected a non-empty str from the enrol response, got None",
    ]
    for fragment in expected:
        assert any(fragment in problem for problem in problems), (fragment, problems)
    assert len(problems) == len(expected) + 1  # unenrol needs two path_vars
    assert str(info.value).startswith("plug-in 'sloppy' does not conform:\n  - ")


def test_kit_rejects_a_structurally_malformed_plugin() -> None:
    class NoMethods:
        name = "empty"
        contract_version = 1

    with pytest.raises(ConformanceError, match=r"method offering\(\) is missing"):
        assert_plugin_conforms(NoMethods())  # type: ignore[arg-type]


def test_kit_reports_a_config_that_does_not_load() -> None:
    config = example_config("moodle").model_copy(update={"npo_id": "moodle-x"})
    [source] = config.sources
    mapping = source.transform.mapping.model_copy(update={"progress": None})  # type: ignore[union-attr]
    transform = source.transform.model_copy(update={"mapping": mapping})
    broken = config.model_copy(
        update={"sources": [source.model_copy(update={"transform": transform})]}
    )
    with pytest.raises(ConformanceError, match="has no progress section"):
        assert_plugin_conforms(broken)


def test_enrol_response_without_assignment_is_a_usage_problem() -> None:
    with pytest.raises(ConformanceError, match="enrol_response given without an assignment"):
        assert_plugin_conforms(example_config("simple"), enrol_response={"enrolment_id": "1"})


def test_load_recorded_rejects_unknown_keys(tmp_path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{"offerings": [], "offering": []}')
    with pytest.raises(ValueError, match="unknown keys \\['offering'\\]"):
        load_recorded(path)


def test_load_recorded_reads_an_assignment(tmp_path) -> None:
    assignment = load_recorded(RECORDED / "simple.json")
    assert "assignment" not in assignment
    path = tmp_path / "a.json"
    path.write_text(
        '{"assignment": {"event_type": "candidate_assignment.created", "assignment_id": "a1",'
        ' "candidate": {"candidate_id": "c1"},'
        ' "offering": {"offering_id": "o1", "npo_id": "simple",'
        ' "npo_offering_ref": "off-1"}}}'
    )
    assert isinstance(load_recorded(path)["assignment"], CandidateAssignmentEvent)
