"""Resolving an unknown outcome: the lookup request from templates, and reading its answer."""

from __future__ import annotations

import pytest

from npo_integration.models.npo_config import EnrolmentLookup
from npo_integration.push.lookup import EnrolmentLookupError, LookupAnswer, lookup_call, read_answer
from npo_integration.transforms.contract import EnrolmentRequest
from tests.unit.push.conftest import SIMPLE_LOOKUP, make_assignment


def test_params_are_filled_from_the_request_as_built_and_the_assignment() -> None:
    request = EnrolmentRequest(
        body={"candidate": {"external_id": "u 7"}, "offering_id": "off-0001"}
    )
    call = lookup_call(EnrolmentLookup.model_validate(SIMPLE_LOOKUP), make_assignment(), request)
    assert call.method == "GET" and call.path == "/api/enrolments"
    assert call.params == {"candidate_external_id": "u 7", "offering_id": "off-0001"}


def test_path_values_are_quoted() -> None:
    lookup = EnrolmentLookup(path="/users/{candidate.npo_user_ref}/enrolments")
    call = lookup_call(lookup, make_assignment(npo_user_ref="a/b"), EnrolmentRequest())
    assert call.path == "/users/a%2Fb/enrolments"


def test_a_value_the_assignment_lacks_is_an_error_not_a_wider_search() -> None:
    lookup = EnrolmentLookup(path="/e", params={"user": "{candidate.npo_user_ref}"})
    with pytest.raises(EnrolmentLookupError, match="has no value"):
        lookup_call(lookup, make_assignment(npo_user_ref=None), EnrolmentRequest())


def test_answers() -> None:
    lookup = EnrolmentLookup.model_validate(SIMPLE_LOOKUP)
    assert read_answer([], lookup) == LookupAnswer(found=False)
    assert read_answer(
        [{"enrolment_id": "enr-3"}, {"enrolment_id": "enr-4"}], lookup
    ) == LookupAnswer(True, "enr-3")
    nested = EnrolmentLookup(path="/e", records_path="data", id_path="id")
    assert read_answer({"data": {"id": 9}}, nested) == LookupAnswer(True, "9")
    assert read_answer({"data": [{"no_id": 1}]}, nested) == LookupAnswer(True, None)


@pytest.mark.parametrize("body", [None, {"other": []}, "text"])
def test_an_unreadable_answer_is_an_error(body: object) -> None:
    with pytest.raises(EnrolmentLookupError, match="is not a list"):
        read_answer(body, EnrolmentLookup(path="/e", records_path="data"))
