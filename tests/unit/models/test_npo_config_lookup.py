"""``enrolment.lookup`` is checked whole when the config is validated: its match paths,
the values its templates name, and the quoting of its params."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from npo_integration.models.npo_config import EnrolmentLookup, LookupParam
from npo_integration.registry.config_input import read_config
from tests.unit.models.test_npo_config_expressions import config, enrolment

SOQL = "SELECT Id FROM ProgramEngagement__c WHERE Contact__r.Email = {candidate.email}"


def refusal(lookup: dict[str, Any]) -> tuple[str, str]:
    with pytest.raises(ValidationError) as caught:
        read_config(config(enrolment=enrolment(lookup=lookup)))
    (error,) = caught.value.errors()
    return ".".join(str(part) for part in error["loc"]), error["msg"]


@pytest.mark.parametrize(
    ("lookup", "field", "message"),
    [
        (
            {"path": "/e", "match": {"user..ref": "{candidate.npo_user_ref}"}},
            "enrolment.lookup.match.user..ref.[key]",
            "path 'user..ref' is malformed at character 6",
        ),
        (
            {"path": "/e", "match": {"user.ref": "{candidate.npo_user_ref"}},
            "enrolment.lookup.match.user.ref",
            "unclosed '{'",
        ),
        (
            {"path": "/e", "params": {"q": {"template": SOQL, "quote": "sql"}}},
            "enrolment.lookup.params.q.quote",
            "Input should be 'soql'",
        ),
        (
            {"path": "/e", "params": {"q": {"template": SOQL, "quoting": "soql"}}},
            "enrolment.lookup.params.q.quoting",
            "Extra inputs are not permitted",
        ),
        (
            {"path": "/e", "params": {"q": {"template": "= '{candidate.email}'", "quote": "soql"}}},
            "enrolment.lookup.params.q",
            "{candidate.email} is inside a quoted string",
        ),
        (
            {"path": "/e", "params": {"q": {"template": "x = 'open", "quote": "soql"}}},
            "enrolment.lookup.params.q",
            "leaves a quote open",
        ),
    ],
)
def test_a_bad_lookup_is_refused_naming_the_field(
    lookup: dict[str, Any], field: str, message: str
) -> None:
    where, reason = refusal(lookup)
    assert where == field
    assert message in reason


@pytest.mark.parametrize(
    ("lookup", "where", "unknown"),
    [
        ({"path": "/u/{candidate.emial}"}, "path", "{candidate.emial}"),
        ({"path": "/e", "params": {"o": "{offering}"}}, "params.o", "{offering}"),
        ({"path": "/e", "params": {"o": "{assignment_id.x}"}}, "params.o", "{assignment_id.x}"),
        ({"path": "/e", "match": {"u": "{candidate_id}"}}, "match.u", "{candidate_id}"),
        ({"path": "/e", "match": {"u": "{request}"}}, "match.u", "{request}"),
    ],
)
def test_a_template_may_name_only_the_assignment_and_the_request(
    lookup: dict[str, Any], where: str, unknown: str
) -> None:
    field, reason = refusal(lookup)
    assert field == "enrolment.lookup"
    assert (
        f"{where}: unknown value {unknown}; use {{assignment_id}}, {{candidate.candidate_id}}"
        in (reason)
    )


def test_a_match_with_no_value_from_the_assignment_is_refused() -> None:
    field, reason = refusal({"path": "/e", "match": {"state": "enrolled"}})
    assert field == "enrolment.lookup" and "cannot tell this assignment's enrolment" in reason


def test_a_good_lookup_validates_and_a_plain_param_is_an_unquoted_template() -> None:
    lookup = EnrolmentLookup.model_validate(
        {
            "path": "/users/{candidate.npo_user_ref}/enrolments",
            "params": {
                "offering": "{offering.npo_offering_ref}",
                "q": {"template": SOQL + r" AND Note__c != 'it\'s {{x}}'", "quote": "soql"},
                "by": "{request.body.candidate.external_id}",
            },
            "match": {
                "offering_id": "{offering.npo_offering_ref}",
                "['user.ref']": "{candidate.npo_user_ref}",
                "state": "enrolled",
            },
        }
    )
    assert lookup.params["offering"] == LookupParam(template="{offering.npo_offering_ref}")
    assert lookup.params["q"].quote == "soql"
    assert list(lookup.match) == ["offering_id", "['user.ref']", "state"]
    dumped = lookup.model_dump(mode="json")  # stored and shown as written
    assert dumped["params"]["offering"] == "{offering.npo_offering_ref}"
    assert dumped["params"]["q"]["quote"] == "soql"
    assert EnrolmentLookup.model_validate_json(lookup.model_dump_json()) == lookup
