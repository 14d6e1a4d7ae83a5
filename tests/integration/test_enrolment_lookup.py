"""A lookup proves which record is this assignment's enrolment, over the real broker and
the simulated NPO: never another candidate's, never a guess, and a value with a quote in it
cannot change the NPO's query.

Each test makes the enrol call's outcome unknown the way a real NPO can: the NPO commits
the enrolment, then answers too late (``commit_then_hang_ms`` past the call's timeout).
The NPOs ignore Idempotency-Key, so only the lookup stands between the retry and a second
enrolment.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.integration.conftest import Stack
from tests.integration.support.admin import admin
from tests.integration.support.kafka import read_all
from tests.integration.support.processes import ROOT
from tests.integration.test_enrolment import (
    TOKEN,
    assignment,
    enrol_config,
    enrol_requests,
    send,
    wait_results,
)

LATE = [{"commit_then_hang_ms": 3000}]
"""The NPO commits, then answers after the 1 s call timeout: the outcome is unknown."""

BY_OFFERING = {
    # The NPO filters by offering only: its answer holds every candidate enrolled there.
    "path": "/api/enrolments",
    "params": {"offering_id": "{offering.npo_offering_ref}"},
    "id_path": "enrolment_id",
    "match": {
        "candidate_external_id": "{candidate.npo_user_ref}",
        "offering_id": "{offering.npo_offering_ref}",
    },
}


async def put_config(stack: Stack, config: dict[str, Any]) -> None:
    status, body = await admin(
        stack.worker.url,
        stack.deployment.admin_token,
        "PUT",
        f"/admin/npos/{config['npo_id']}?wait=true",
        config,
    )
    assert status == 200, body


async def add_lookup_npo(stack: Stack, npo_id: str, lookup: dict[str, Any]) -> None:
    """A ``simple`` NPO that ignores Idempotency-Key, enrolled with ``lookup`` and a 1 s timeout."""
    await stack.sandbox.add_npo(
        npo_id,
        flavour="simple",
        auth={"kind": "bearer", "token": TOKEN},
        offerings=3,
        options={"honours_idempotency": False},
    )
    config = enrol_config(
        npo_id, stack.sandbox.npo_url(npo_id), timeout=1.0, idempotency_key="ignored"
    )
    await put_config(stack, {**config, "enrolment": {**config["enrolment"], "lookup": lookup}})


async def links_of(stack: Stack, assignment_id: str) -> list[dict[str, Any]]:
    return [
        m.value
        for m in await read_all(stack.deployment.topics["enrolment_links"])
        if m.value["assignment_id"] == assignment_id
    ]


async def enrol_others_first(stack: Stack, npo_id: str, *ids: str) -> None:
    for other in ids:
        await send(stack.deployment, assignment(other, npo_id))
    for other in ids:
        assert (await wait_results(stack.deployment, other))[0]["status"] == "confirmed"


async def test_a_lookup_answering_other_candidates_enrolments_links_this_candidates_own(
    stack: Stack,
) -> None:
    npo = "lk-others"
    await add_lookup_npo(stack, npo, BY_OFFERING)
    await enrol_others_first(stack, npo, "asg-lk-other-1", "asg-lk-other-2")
    await stack.sandbox.set_faults(npo, endpoint="enrol", fail_next=LATE)

    await send(stack.deployment, assignment("asg-lk-mine", npo))

    (result,) = await wait_results(stack.deployment, "asg-lk-mine")
    enrolments = await stack.sandbox.enrolments(npo)
    mine = [e for e in enrolments if e["candidate"]["external_id"] == "user-asg-lk-mine"]
    assert len(enrolments) == 3 and len(mine) == 1  # no second enrolment of this candidate
    assert result["status"] == "confirmed"
    assert result["npo_enrolment_ref"] == mine[0]["enrolment_id"]
    (link,) = await links_of(stack, "asg-lk-mine")
    assert link["npo_enrolment_ref"] == mine[0]["enrolment_id"]
    assert link["candidate_id"] == "cand-asg-lk-mine"

    (lookup,) = await enrol_requests(stack.sandbox, npo, "lookup")
    assert lookup["query"] == {"offering_id": "off-0001"} and lookup["status"] == 200
    assert len(await enrol_requests(stack.sandbox, npo)) == 3  # one POST per assignment


async def test_two_records_matching_one_assignment_fail_it_for_an_operator_and_link_nothing(
    stack: Stack,
) -> None:
    npo = "lk-twice"
    await add_lookup_npo(stack, npo, BY_OFFERING)
    # The NPO already holds an enrolment of this candidate in this offering (made by hand).
    await stack.sandbox.upsert(
        npo,
        "progress",
        {
            "enrolment_id": "enr-by-hand",
            "offering_id": "off-0001",
            "candidate_external_id": "user-asg-lk-twice",
            "state": "enrolled",
            "percent": 0,
        },
    )
    await stack.sandbox.set_faults(npo, endpoint="enrol", fail_next=LATE)

    await send(stack.deployment, assignment("asg-lk-twice", npo))

    (result,) = await wait_results(stack.deployment, "asg-lk-twice")
    assert result["status"] == "failed" and result["npo_enrolment_ref"] is None
    assert "match this assignment" in result["reason"] and "enr-by-hand" in result["reason"]
    assert await links_of(stack, "asg-lk-twice") == []
    assert len(await enrol_requests(stack.sandbox, npo)) == 1  # no post on a guess either
    letters = [
        m.value
        for m in await read_all(stack.deployment.topics["dead_letters"])
        if m.value.get("key") == "asg-lk-twice"
    ]
    assert len(letters) == 1


# --- Salesforce: a SOQL-quoted lookup ----------------------------------------------------------

SF_EXAMPLE = json.loads((ROOT / "examples" / "npos" / "salesforce.json").read_text())
SF_QUERY = "/services/data/v60.0/query"


def salesforce_config(stack: Stack, npo_id: str) -> dict[str, Any]:
    """The Salesforce example's enrolment and transform, against the simulator."""
    return {
        "npo_id": npo_id,
        "display_name": f"Lookup test {npo_id}",
        "base_url": stack.sandbox.npo_url(npo_id),
        "auth": {"kind": "bearer", "token": TOKEN},
        "enrolment": {**SF_EXAMPLE["enrolment"], "max_attempts": 4},
        "transform": SF_EXAMPLE["transform"],
        "timeout_seconds": 1.0,
        "retry": {"backoff_base_seconds": 0.2, "backoff_max_seconds": 1.0},
    }


def sf_assignment(assignment_id: str, npo_id: str, program: str, email: str) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": "candidate_assignment.created",
        "occurred_at": "2026-11-28T09:05:00Z",
        "assignment_id": assignment_id,
        "candidate": {"candidate_id": f"cand-{assignment_id}", "email": email},
        "offering": {"offering_id": "off-5", "npo_id": npo_id, "npo_offering_ref": program},
    }


async def test_a_soql_quoted_lookup_with_a_quote_in_the_email_finds_the_right_engagement(
    stack: Stack,
) -> None:
    npo = "lk-soql"
    await stack.sandbox.add_npo(
        npo,
        flavour="salesforce",
        auth={"kind": "bearer", "token": TOKEN},
        offerings=2,
        options={"honours_idempotency": False},
    )
    await put_config(stack, salesforce_config(stack, npo))
    program = (await stack.sandbox.records(npo, "offerings"))[0]["Id"]
    await send(stack.deployment, sf_assignment("asg-sf-x", npo, program, "x@example.org"))
    assert (await wait_results(stack.deployment, "asg-sf-x"))[0]["status"] == "confirmed"
    await stack.sandbox.set_faults(npo, endpoint="enrol", fail_next=LATE)

    email = "x'OR'1'='1@example.org"  # a valid address
    await send(stack.deployment, sf_assignment("asg-sf-quote", npo, program, email))

    (result,) = await wait_results(stack.deployment, "asg-sf-quote")
    enrolments = await stack.sandbox.enrolments(npo)
    mine = [e for e in enrolments if e["candidate"]["Email"] == email]
    assert len(mine) == 1 and len(enrolments) == 2
    assert result["status"] == "confirmed"
    assert result["npo_enrolment_ref"] == mine[0]["enrolment_id"]
    (link,) = await links_of(stack, "asg-sf-quote")
    assert link["npo_enrolment_ref"] == mine[0]["enrolment_id"]

    lookups = [r for r in await stack.sandbox.requests(npo) if r["path"].endswith(SF_QUERY)]
    assert [(r["query"]["q"], r["status"]) for r in lookups] == [
        (
            "SELECT Id, Program__c, Contact__r.Email FROM ProgramEngagement__c WHERE "
            rf"Contact__r.Email = 'x\'OR\'1\'=\'1@example.org' AND Program__c = '{program}'",
            200,
        )
    ]
    posts = await enrol_requests(stack.sandbox, npo)
    assert len(posts) == 2  # one per assignment
