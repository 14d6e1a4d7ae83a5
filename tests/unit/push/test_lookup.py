"""Resolving an unknown outcome: the lookup request from templates, escaped for where each
value goes, and an answer that counts as found only when it proves which record is this
assignment's."""

from __future__ import annotations

from typing import Any

import pytest
from yarl import URL

from npo_integration.models.npo_config import EnrolmentLookup
from npo_integration.push import machine
from npo_integration.push.lookup import EnrolmentLookupError, LookupAnswer, lookup_call, read_answer
from npo_integration.push.processor import EnrolmentProcessor
from npo_integration.transforms.contract import EnrolmentRequest
from tests.unit.push.conftest import (
    LOOKUP_ENROLMENT,
    SIMPLE_LOOKUP,
    FakePorts,
    make_assignment,
    make_config,
    response,
)

NO_REQUEST = EnrolmentRequest()
MATCHED: dict[str, Any] = {
    "path": "/api/enrolments",
    "params": {"offering_id": "{offering.npo_offering_ref}"},
    "id_path": "enrolment_id",
    "match": {"user.ref": "{candidate.npo_user_ref}", "offering_id": "{offering.npo_offering_ref}"},
}
SOQL: dict[str, Any] = {
    "path": "/services/data/v60.0/query",
    "params": {
        "q": {
            "template": "SELECT Id FROM ProgramEngagement__c WHERE "
            "Contact__r.Email = {candidate.email} AND Program__c = {offering.npo_offering_ref}",
            "quote": "soql",
        }
    },
    "records_path": "records",
    "id_path": "Id",
}


def lookup(document: dict[str, Any]) -> EnrolmentLookup:
    return EnrolmentLookup.model_validate(document)


def answer(body: Any, document: dict[str, Any] = MATCHED, **assignment: Any) -> LookupAnswer:
    return read_answer(body, lookup(document), make_assignment(**assignment), NO_REQUEST)


def record(ref: str, user: Any = "u-7", offering: Any = "off-0001") -> dict[str, Any]:
    return {"enrolment_id": ref, "user": {"ref": user}, "offering_id": offering}


# --- the request ----------------------------------------------------------------------------


def test_params_are_filled_from_the_request_as_built_and_the_assignment() -> None:
    request = EnrolmentRequest(
        body={"candidate": {"external_id": "u 7"}, "offering_id": "off-0001"}
    )
    call = lookup_call(lookup(SIMPLE_LOOKUP), make_assignment(), request)
    assert call.method == "GET" and call.path == "/api/enrolments"
    assert call.params == {"candidate_external_id": "u 7", "offering_id": "off-0001"}


@pytest.mark.parametrize(
    ("ref", "segment"),
    [
        ("a/b", "a%2Fb"),
        ("who?x=1", "who%3Fx%3D1"),
        ("Ada Lovelace", "Ada%20Lovelace"),
        ("50%#", "50%25%23"),
    ],
)
def test_path_values_are_one_encoded_segment(ref: str, segment: str) -> None:
    config = EnrolmentLookup(path="/users/{candidate.npo_user_ref}/enrolments")
    call = lookup_call(config, make_assignment(npo_user_ref=ref), NO_REQUEST)
    assert call.path == f"/users/{segment}/enrolments"
    sent = URL(f"https://npo.example.org{call.path}")  # what the client sends
    assert sent.parts[1:] == ("users", ref, "enrolments")  # one segment, the value as it was


@pytest.mark.parametrize("ref", ["..", "."])
def test_a_dot_segment_is_refused_rather_than_sent_to_another_path(ref: str) -> None:
    config = EnrolmentLookup(path="/users/{candidate.npo_user_ref}/enrolments")
    with pytest.raises(EnrolmentLookupError, match="not a usable URL path segment"):
        lookup_call(config, make_assignment(npo_user_ref=ref), NO_REQUEST)


def test_param_values_are_left_for_the_client_to_encode_once() -> None:
    config = EnrolmentLookup(path="/e", params={"user": "{candidate.npo_user_ref}"})
    call = lookup_call(config, make_assignment(npo_user_ref="a&b=c %41+"), NO_REQUEST)
    assert call.params == {"user": "a&b=c %41+"}
    sent = URL("https://npo.example.org/e").extend_query(call.params)  # what the client does
    assert sent.raw_query_string == "user=a%26b%3Dc+%2541%2B"
    assert sent.query["user"] == "a&b=c %41+"


def test_a_soql_quoted_param_cannot_change_the_query() -> None:
    call = lookup_call(lookup(SOQL), make_assignment(email="x'OR'1'='1@example.org"), NO_REQUEST)
    assert call.params["q"] == (
        "SELECT Id FROM ProgramEngagement__c WHERE Contact__r.Email = "
        r"'x\'OR\'1\'=\'1@example.org' AND Program__c = 'off-0001'"
    )


def test_a_soql_quoted_backslash_is_escaped_before_the_quote() -> None:
    call = lookup_call(lookup(SOQL), make_assignment(email="o\\'b@example.org"), NO_REQUEST)
    assert r"Contact__r.Email = 'o\\\'b@example.org'" in call.params["q"]


def test_a_value_the_assignment_lacks_is_an_error_not_a_wider_search() -> None:
    config = EnrolmentLookup(path="/e", params={"user": "{candidate.npo_user_ref}"})
    with pytest.raises(EnrolmentLookupError, match="has no value"):
        lookup_call(config, make_assignment(npo_user_ref=None), NO_REQUEST)


def test_a_match_value_the_assignment_lacks_fails_before_the_npo_is_asked() -> None:
    with pytest.raises(EnrolmentLookupError, match=r"match\.user\.ref.*has no value"):
        lookup_call(lookup(MATCHED), make_assignment(npo_user_ref=None), NO_REQUEST)


# --- the answer -----------------------------------------------------------------------------


def test_the_one_matching_record_is_found_among_other_candidates() -> None:
    body = [record("enr-1", user="u-8"), record("enr-2"), record("enr-3", offering="off-2")]
    assert answer(body) == LookupAnswer(True, "enr-2")


def test_no_matching_record_is_not_found() -> None:
    assert answer([]) == LookupAnswer(found=False)
    assert answer([record("enr-1", user="u-8"), record("enr-3", offering="off-2")]) == (
        LookupAnswer(found=False)
    )


def test_several_matching_records_are_an_error_naming_them() -> None:
    with pytest.raises(EnrolmentLookupError) as info:
        answer([record("enr-1"), record("enr-9", user="u-8"), record("enr-2")])
    assert str(info.value) == (
        "2 records the lookup answered (ids enr-1, enr-2) match this assignment "
        "(user.ref = 'u-7', offering_id = 'off-0001'): cannot tell which is its enrolment"
    )


@pytest.mark.parametrize("user", [None, {"id": "u-7"}, ["u-7"], True])
def test_a_null_absent_or_structured_value_never_matches(user: Any) -> None:
    assert answer([record("enr-1", user=user)]) == LookupAnswer(found=False)
    assert answer([{"enrolment_id": "enr-1", "offering_id": "off-0001"}]) == LookupAnswer(False)


def test_numbers_match_their_text() -> None:
    document = {**MATCHED, "match": {"user.ref": "{candidate.npo_user_ref}"}}
    assert answer([record("enr-1", user=7)], document, npo_user_ref="7") == LookupAnswer(
        True, "enr-1"
    )


def test_an_empty_match_value_identifies_nothing() -> None:
    with pytest.raises(EnrolmentLookupError, match="is empty for this assignment"):
        answer([record("enr-1", user="")], npo_user_ref="")


def test_a_constant_in_match_filters_too() -> None:
    document = {**MATCHED, "match": {**MATCHED["match"], "state": "enrolled"}}
    withdrawn = {**record("enr-1"), "state": "withdrawn"}
    enrolled = {**record("enr-2"), "state": "enrolled"}
    assert answer([withdrawn, enrolled], document) == LookupAnswer(True, "enr-2")


def test_without_match_one_record_is_found_and_several_are_an_error() -> None:
    config = lookup(SIMPLE_LOOKUP)
    assert read_answer([], config, make_assignment(), NO_REQUEST) == LookupAnswer(found=False)
    one = [{"enrolment_id": "enr-3"}]
    assert read_answer(one, config, make_assignment(), NO_REQUEST) == LookupAnswer(True, "enr-3")
    with pytest.raises(EnrolmentLookupError, match=r"2 records \(ids enr-3, enr-4\).*add "):
        read_answer(
            [{"enrolment_id": "enr-3"}, {"enrolment_id": "enr-4"}],
            config,
            make_assignment(),
            NO_REQUEST,
        )


def test_records_at_a_path_or_one_object() -> None:
    nested = EnrolmentLookup(path="/e", records_path="data", id_path="id")
    assert read_answer({"data": {"id": 9}}, nested, make_assignment(), NO_REQUEST) == (
        LookupAnswer(True, "9")
    )
    assert read_answer({"data": [{"no_id": 1}]}, nested, make_assignment(), NO_REQUEST) == (
        LookupAnswer(True, None)
    )


@pytest.mark.parametrize("body", [None, {"other": []}, "text"])
def test_an_unreadable_answer_is_an_error(body: object) -> None:
    with pytest.raises(EnrolmentLookupError, match="is not a list"):
        read_answer(body, EnrolmentLookup(path="/e", records_path="data"), make_assignment(), None)


# --- what the processor makes of it -------------------------------------------------------


async def test_an_ambiguous_lookup_fails_the_enrolment_for_an_operator_and_links_nothing(
    ports: FakePorts,
) -> None:
    processor = EnrolmentProcessor(ports, clock=ports.clock, random_fraction=lambda: 0.0)
    ports.add_config(make_config(enrolment={**LOOKUP_ENROLMENT, "lookup": MATCHED}))
    crashed = machine.begin(machine.new(make_assignment(), 0, ports.clock()), ports.clock(), 10)
    ports.states["asg-1"] = crashed  # a call whose outcome is unknown
    ports.reply(response(200, [record("enr-1"), record("enr-2")]))

    await processor.on_assignment(make_assignment(), 0)

    assert [c.method for c, _ in ports.sent] == ["GET"]  # no post on a guess either
    assert ports.links == []
    (result,) = ports.results
    assert result.status == "failed" and result.npo_enrolment_ref is None
    assert "cannot tell which is its enrolment" in (result.reason or "")
    assert len(ports.dead) == 1 and ports.states["asg-1"].maybe_applied
