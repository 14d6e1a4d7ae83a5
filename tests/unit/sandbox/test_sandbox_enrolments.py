"""Enrol/unenrol on every flavour, idempotency keys, and Moodle's errors-in-200."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from npo_sandbox import SandboxServer

CANDIDATE = {
    "email": "candidate42@example.org",
    "first_name": "Ada",
    "last_name": "L",
    "external_id": "cand-00042",
}


async def call(
    http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any
) -> tuple[int, Any]:
    async with http.request(method, url, **kwargs) as response:
        body = await response.json() if response.status != 204 else None
        return response.status, body


async def test_simple_enrol_lookup_unenrol(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    await sandbox.add_npo("s", offerings=3)
    base = sandbox.npo_base_url("s")
    status, body = await call(
        http,
        "POST",
        f"{base}/api/enrolments",
        json={"candidate": CANDIDATE, "offering_id": "off-0002"},
    )
    assert status == 201 and body["status"] == "enrolled"
    enrolment_id = body["enrolment_id"]
    _, found = await call(
        http,
        "GET",
        f"{base}/api/enrolments",
        params={"candidate_external_id": "cand-00042", "offering_id": "off-0002"},
    )
    assert [f["enrolment_id"] for f in found] == [enrolment_id]
    _, progress = await call(http, "GET", f"{base}/api/progress")
    states = [p["state"] for p in progress["data"] if p["enrolment_id"] == enrolment_id]
    assert states == ["enrolled"]
    assert (await call(http, "DELETE", f"{base}/api/enrolments/{enrolment_id}"))[0] == 204
    assert (await call(http, "DELETE", f"{base}/api/enrolments/{enrolment_id}"))[0] == 404
    assert (await sandbox.enrolments("s"))[0]["status"] == "unenrolled"
    unknown = {"candidate": CANDIDATE, "offering_id": "nope"}
    status, _ = await call(http, "POST", f"{base}/api/enrolments", json=unknown)
    assert status == 422
    status, _ = await call(http, "POST", f"{base}/api/enrolments", data="not json")
    assert status == 400


@pytest.mark.parametrize("honours", [True, False])
async def test_idempotency_key(
    sandbox: SandboxServer, http: aiohttp.ClientSession, honours: bool
) -> None:
    await sandbox.add_npo("s", offerings=3, options={"honours_idempotency": honours})
    url = f"{sandbox.npo_base_url('s')}/api/enrolments"
    body = {"candidate": CANDIDATE, "offering_id": "off-0001"}
    first = await call(http, "POST", url, json=body, headers={"Idempotency-Key": "abc"})
    second = await call(http, "POST", url, json=body, headers={"Idempotency-Key": "abc"})
    other = await call(http, "POST", url, json=body, headers={"Idempotency-Key": "xyz"})
    enrolments = await sandbox.enrolments("s")
    if honours:
        assert first == second and other != first
        assert [(e["idempotency_key"], e["count"]) for e in enrolments] == [("abc", 2), ("xyz", 1)]
    else:
        assert first[1]["enrolment_id"] != second[1]["enrolment_id"]
        assert [e["idempotency_key"] for e in enrolments] == ["abc", "abc", "xyz"]
    assert enrolments[0]["body"] == body


async def test_failed_enrol_is_not_stored_under_its_key(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    await sandbox.add_npo("s", offerings=2)
    await sandbox.set_faults("s", "enrol", fail_next=[{"status": 500}])
    url = f"{sandbox.npo_base_url('s')}/api/enrolments"
    body = {"candidate": CANDIDATE, "offering_id": "off-0001"}
    assert (await call(http, "POST", url, json=body, headers={"Idempotency-Key": "k"}))[0] == 500
    assert (await call(http, "POST", url, json=body, headers={"Idempotency-Key": "k"}))[0] == 201
    assert (await call(http, "POST", url, json=body, headers={"Idempotency-Key": "k"}))[0] == 201
    assert [e["count"] for e in await sandbox.enrolments("s")] == [2]


async def test_canvas_form_enrol_and_delete(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    await sandbox.add_npo("c", "canvas", offerings=3)
    courses = await sandbox.records("c", "offerings")
    course = next(c for c in courses if c["workflow_state"] != "deleted")
    url = f"{sandbox.npo_base_url('c')}/api/v1/courses/{course['id']}/enrollments"
    form = {
        "enrollment[sis_user_id]": "cand-00042",
        "enrollment[type]": "StudentEnrollment",
        "enrollment[enrollment_state]": "active",
    }
    key = {"Idempotency-Key": "c-1"}
    status, enrollment = await call(http, "POST", url, data=form, headers=key)
    assert status == 200 and enrollment["enrollment_state"] == "active"
    assert enrollment["user_id"] == 2042  # derived from the sis id "cand-00042"
    assert (await call(http, "POST", url, data=form, headers=key))[1] == enrollment
    status, by_user = await call(http, "POST", url, data={"enrollment[user_id]": "2043"})
    assert status == 200 and by_user["user_id"] == 2043
    _, listed = await call(http, "GET", url)
    assert {e["id"] for e in listed} == {enrollment["id"], by_user["id"]}
    delete = {"task": "delete"}
    status, deleted = await call(http, "DELETE", f"{url}/{enrollment['id']}", params=delete)
    assert status == 200 and deleted["enrollment_state"] == "deleted"
    _, listed = await call(http, "GET", url)
    assert [e["id"] for e in listed] == [by_user["id"]]
    assert (await call(http, "POST", url, data={"enrollment[type]": "StudentEnrollment"}))[0] == 400
    assert len(await sandbox.enrolments("c")) == 2


def moodle_form(function: str, **params: str) -> dict[str, str]:
    return {"wsfunction": function, "moodlewsrestformat": "json", **params}


def enrolment_params(index: int = 0, **fields: str) -> dict[str, str]:
    """``enrolments[0][userid]=...`` style keys from plain keyword arguments."""
    return {f"enrolments[{index}][{name}]": value for name, value in fields.items()}


async def test_moodle_enrol_unenrol_and_errors_in_200(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    await sandbox.add_npo("m", "moodle", offerings=2)
    url = f"{sandbox.npo_base_url('m')}/webservice/rest/server.php"
    _, users = await call(
        http,
        "GET",
        url,
        params=moodle_form(
            "core_user_get_users_by_field", field="idnumber", **{"values[0]": "cand-00042"}
        ),
    )
    userid = str(users[0]["id"])
    enrol = moodle_form(
        "enrol_manual_enrol_users", **enrolment_params(roleid="5", userid=userid, courseid="2")
    )
    assert await call(http, "POST", url, data=enrol) == (200, None)
    assert await call(http, "POST", url, data=enrol) == (200, None)  # Moodle re-enrol is a no-op
    enrolments = await sandbox.enrolments("m")
    assert len(enrolments) == 1 and enrolments[0]["count"] == 2
    assert enrolments[0]["candidate"] == {"userid": int(userid)}
    assert enrolments[0]["offering_id"] == "2"
    _, progress = await call(http, "GET", url, params=moodle_form("local_spotlight_progress"))
    assert [(r["userid"], r["progress"]) for r in progress["records"]] == [(int(userid), "0.00")]
    unenrol = moodle_form(
        "enrol_manual_unenrol_users", **enrolment_params(userid=userid, courseid="2")
    )
    assert await call(http, "POST", url, data=unenrol) == (200, None)
    assert (await sandbox.enrolments("m"))[0]["status"] == "unenrolled"

    errors = [
        (moodle_form("no_such_function"), "invalidrecord"),
        (moodle_form("enrol_manual_enrol_users"), "invalidparameter"),
        (
            moodle_form(
                "enrol_manual_enrol_users", **enrolment_params(roleid="5", userid="x", courseid="2")
            ),
            "invalidparameter",
        ),
        (
            moodle_form(
                "enrol_manual_enrol_users", **enrolment_params(roleid="5", userid="9", courseid="1")
            ),
            "wsnoinstance",
        ),
        (moodle_form("local_spotlight_progress", offset="-1"), "invalidparameter"),
    ]
    for form, code in errors:
        status, body = await call(http, "POST", url, data=form)
        assert status == 200 and body["errorcode"] == code
        assert body["exception"] and body["message"]
    async with http.get(url, params={"wsfunction": "core_course_get_courses"}) as response:
        assert response.status == 200  # without moodlewsrestformat=json Moodle answers XML
        assert "<EXCEPTION" in await response.text()


async def test_moodle_idempotency_and_commit_then_hang(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    await sandbox.add_npo("m", "moodle", offerings=2)
    url = f"{sandbox.npo_base_url('m')}/webservice/rest/server.php"
    enrol = moodle_form(
        "enrol_manual_enrol_users", **enrolment_params(roleid="5", userid="2042", courseid="3")
    )
    key = {"Idempotency-Key": "m-1"}
    for _ in range(2):
        assert await call(http, "POST", url, data=enrol, headers=key) == (200, None)
    enrolments = await sandbox.enrolments("m")
    assert [(e["idempotency_key"], e["count"]) for e in enrolments] == [("m-1", 2)]
    kinds = [entry["endpoint"] for entry in await sandbox.requests("m")]
    assert kinds == ["enrol", "enrol"]


async def test_salesforce_engagement_create_and_delete(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    await sandbox.add_npo("sf", "salesforce", offerings=2)
    program = (await sandbox.records("sf", "offerings"))[0]["Id"]
    base = f"{sandbox.npo_base_url('sf')}/services/data/v60.0/sobjects/ProgramEngagement__c"
    engagement = {"Program__c": program, "Contact__r": {"Email": "x@y.z"}}
    key = {"Idempotency-Key": "sf-1"}
    status, created = await call(http, "POST", base, json=engagement, headers=key)
    assert status == 201 and created["success"] is True and created["errors"] == []
    assert await call(http, "POST", base, json=engagement, headers=key) == (201, created)
    unknown = {"Program__c": "a0Pnope", "Contact__c": "003x"}
    status, errors = await call(http, "POST", base, json=unknown)
    assert status == 400 and errors[0]["errorCode"] == "INVALID_CROSS_REFERENCE_KEY"
    status, errors = await call(http, "POST", base, json={"Contact__c": "003x"})
    assert status == 400 and errors[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert (await call(http, "DELETE", f"{base}/{created['id']}"))[0] == 204
    assert (await call(http, "DELETE", f"{base}/{created['id']}"))[0] == 404
    assert len(await sandbox.enrolments("sf")) == 1


async def test_cursor_and_offset_enrol(sandbox: SandboxServer, http: aiohttp.ClientSession) -> None:
    await sandbox.add_npo("cr", "cursor", offerings=2)
    await sandbox.add_npo("o", "offset", offerings=2)
    participant = {"external_ref": "cand-00042", "email": CANDIDATE["email"]}
    status, created = await call(
        http,
        "POST",
        f"{sandbox.npo_base_url('cr')}/v2/participations",
        json={"offering_id": "ofr_0001", "participant": participant},
    )
    assert status == 201 and created["status"] == "registered" and created["id"].startswith("par_")
    participation_url = f"{sandbox.npo_base_url('cr')}/v2/participations/{created['id']}"
    assert (await call(http, "DELETE", participation_url))[0] == 204
    status, registered = await call(
        http,
        "POST",
        f"{sandbox.npo_base_url('o')}/rest/registrations",
        json={"program_id": 2, "person": {"ref": "cand-00042"}},
    )
    assert status == 201 and registered["status"] == "registered"
    _, progress = await call(http, "GET", f"{sandbox.npo_base_url('o')}/rest/progress")
    assert [p["registration_id"] for p in progress["results"]] == [registered["registration_id"]]
    assert (
        await call(
            http,
            "POST",
            f"{sandbox.npo_base_url('o')}/rest/registrations",
            json={"program_id": 99, "person": {"ref": "x"}},
        )
    )[0] == 422


async def test_an_npo_that_rejects_duplicates_answers_already_enrolled_its_own_way(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    options = {"honours_idempotency": False, "rejects_duplicates": True}
    await sandbox.add_npo("dup", offerings=2, options=options)
    url = f"{sandbox.npo_base_url('dup')}/api/enrolments"
    body = {"candidate": CANDIDATE, "offering_id": "off-0001"}
    assert (await call(http, "POST", url, json=body))[0] == 201
    status, error = await call(http, "POST", url, json=body)
    assert status == 409 and error["error"] == "already_enrolled"
    other = {"candidate": CANDIDATE, "offering_id": "off-0002"}
    assert (await call(http, "POST", url, json=other))[0] == 201
    assert len(await sandbox.enrolments("dup")) == 2

    await sandbox.add_npo("sfdup", "salesforce", offerings=2, options=options)
    program = (await sandbox.records("sfdup", "offerings"))[0]["Id"]
    base = f"{sandbox.npo_base_url('sfdup')}/services/data/v60.0/sobjects/ProgramEngagement__c"
    engagement = {"Program__c": program, "Contact__r": {"Email": "x@y.z"}}
    assert (await call(http, "POST", base, json=engagement))[0] == 201
    status, errors = await call(http, "POST", base, json=engagement)
    assert status == 400 and errors[0]["errorCode"] == "DUPLICATE_VALUE"


async def test_salesforce_upsert_by_external_id_makes_one_engagement(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    await sandbox.add_npo("sfu", "salesforce", offerings=2)
    program = (await sandbox.records("sfu", "offerings"))[0]["Id"]
    base = f"{sandbox.npo_base_url('sfu')}/services/data/v60.0/sobjects/ProgramEngagement__c"
    url = f"{base}/Spotlight_Assignment_Id__c/a-1"
    engagement = {"Program__c": program, "Contact__r": {"Email": "x@y.z"}}
    status, created = await call(http, "PATCH", url, json=engagement)
    assert status == 201 and created["created"] is True
    status, updated = await call(http, "PATCH", url, json={**engagement, "Stage__c": "Enrolled"})
    assert (status, updated["id"], updated["created"]) == (200, created["id"], False)
    held = [
        r
        for r in await sandbox.records("sfu", "progress")
        if r.get("Spotlight_Assignment_Id__c") == "a-1"
    ]
    assert [r["Id"] for r in held] == [created["id"]]
    assert len(await sandbox.enrolments("sfu")) == 1
    status, errors = await call(http, "PATCH", f"{base}/Email__c/a-1", json=engagement)
    assert status == 404 and errors[0]["errorCode"] == "NOT_FOUND"
