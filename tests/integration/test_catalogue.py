"""The connector catalogue against the simulated systems (Moodle, Canvas, Salesforce, CiviCRM,
Blackbaud), over the real broker: each template, registered through the admin API with the NPO's
base URL, credentials and a few parameters, maps offerings and progress, enrols once, walks its
system's pages and meets its error conventions.

One deployment (the module's ``stack``) serves every template, so the catalogue costs one worker
start. Streams pulled every 2 s come from an override, so overrides are exercised end to end.
"""

from __future__ import annotations

import json
from typing import Any

from tests.integration.conftest import Stack
from tests.integration.support.admin import admin
from tests.integration.support.kafka import read_all
from tests.integration.support.polling import eventually
from tests.integration.support.processes import SandboxProcess
from tests.integration.test_enrolment import assignment, enrol_requests, send, wait_results
from tests.integration.test_oauth_rotation import SECRET as BB_SECRET
from tests.integration.test_oauth_rotation import SUBSCRIPTION_KEY as BB_SUBSCRIPTION_KEY
from tests.integration.test_oauth_rotation import consent, grant_counters, sim_auth
from tests.integration.test_sources import TIMEOUT, posts, wait_update

TOKEN = "catalogue-token"
CLIENT = {"client_id": "spotlight", "client_secret": "catalogue-secret"}
EVERY_2S = {"schedule_seconds": 2}


async def onboard(stack: Stack, data: dict[str, Any], *, method: str = "PUT") -> dict[str, Any]:
    """Register ``data`` (a template input) through the admin API, as an operator would."""
    path = f"/admin/npos/{data['npo_id']}" if method == "PUT" else "/admin/npos"
    url, token = stack.worker.url, stack.deployment.admin_token
    status, body = await admin(url, token, method, f"{path}?wait=true", data)
    assert status == 200, body
    status, stored = await admin(url, token, "GET", f"/admin/npos/{data['npo_id']}")
    assert status == 200, stored
    return dict(stored)


async def offerings(stack: Stack, npo_id: str, refs: set[str]) -> dict[str, dict[str, Any]]:
    """The NPO's offering events once every one of ``refs`` was published, by reference."""

    async def probe() -> dict[str, dict[str, Any]] | None:
        events = [
            m.value
            for m in await read_offerings(stack)
            if m.value["npo_id"] == npo_id and m.value["offering"]["npo_offering_ref"] in refs
        ]
        found = {e["offering"]["npo_offering_ref"]: e for e in events}
        return found if set(found) == refs else None

    return await eventually(probe, timeout=TIMEOUT, what=f"offerings {sorted(refs)} of {npo_id}")


async def read_offerings(stack: Stack) -> list[Any]:
    return list(await read_all(stack.deployment.topics["offerings"]))


async def paged(sandbox: SandboxProcess, npo_id: str, endpoint: str, key: str, value: str) -> None:
    """The system was asked for a page after the first (``key=value`` in the query)."""

    async def probe() -> bool:
        return any(
            r["endpoint"] == endpoint and r["query"].get(key) == value and r["status"] == 200
            for r in await sandbox.requests(npo_id)
        )

    await eventually(probe, timeout=TIMEOUT, what=f"{npo_id}: {endpoint} page {key}={value}")


async def pull_error(stack: Stack, npo_id: str, stream: str = "offerings") -> str:
    """The stream's last pull error, once a pull of it has failed (the pulls admin view)."""
    url, token = stack.worker.url, stack.deployment.admin_token

    async def probe() -> str | None:
        status, body = await admin(url, token, "GET", f"/admin/npos/{npo_id}/pulls")
        assert status == 200, body
        error = body.get("streams", {}).get(stream, {}).get("last_error")
        return str(error) if error else None

    return await eventually(probe, timeout=TIMEOUT, what=f"a failed pull of {npo_id} {stream}")


async def deactivate(stack: Stack, npo_id: str) -> None:
    """Stop pulling an NPO a test made fail on purpose (the deployment is shared)."""
    url, token = stack.worker.url, stack.deployment.admin_token
    status, body = await admin(url, token, "POST", f"/admin/npos/{npo_id}/deactivate?wait=true")
    assert status == 200, body


async def enrol_once(stack: Stack, event: dict[str, Any]) -> dict[str, Any]:
    """Send the assignment twice (a redelivery); one confirmed result, one enrolment."""
    await send(stack.deployment, event)
    await send(stack.deployment, event)
    [result] = await wait_results(stack.deployment, event["assignment_id"], timeout=TIMEOUT)
    assert result["status"] == "confirmed", result
    return result


async def test_moodle_onboarded_with_npo_id_base_url_and_token_only(stack: Stack) -> None:
    sandbox, npo_id = stack.sandbox, "cat-moodle-min"
    await sandbox.add_npo(
        npo_id,
        flavour="moodle",
        auth={"kind": "api_key_query", "api_key": TOKEN, "query_param": "wstoken"},
        offerings=2,
    )
    data = {
        "npo_id": npo_id,
        "template": "moodle@1",
        "base_url": sandbox.npo_url(npo_id),
        "auth": {"key": TOKEN},
    }
    stored = await onboard(stack, data, method="POST")
    assert stored["config"]["template"] == {"name": "moodle", "version": 1}
    assert TOKEN not in json.dumps(stored)
    courses = {str(c["id"]) for c in await sandbox.records(npo_id, "offerings") if c["id"] != 1}
    events = await offerings(stack, npo_id, courses)
    assert {e["offering"]["kind"] for e in events.values()} == {"course"}


async def test_moodle_template(stack: Stack) -> None:
    sandbox, npo_id = stack.sandbox, "cat-moodle"
    await sandbox.add_npo(
        npo_id,
        flavour="moodle",
        auth={"kind": "api_key_query", "api_key": TOKEN, "query_param": "wstoken"},
        offerings=3,
        progress=5,
    )
    stored = await onboard(
        stack,
        {
            "npo_id": npo_id,
            "template": "moodle@1",
            "base_url": sandbox.npo_url(npo_id),
            "auth": {"key": TOKEN},
            "params": {"page_size": 2, "role_id": 5},
            "overrides": {"streams": {"assignments": EVERY_2S}},
        },
    )
    assert stored["config"]["sources"][0]["streams"][1]["schedule_seconds"] == 2  # resolved
    courses = [c for c in await sandbox.records(npo_id, "offerings") if c["format"] != "site"]
    events = await offerings(stack, npo_id, {str(c["id"]) for c in courses})
    first = events[str(courses[0]["id"])]["offering"]
    assert first["title"] == courses[0]["fullname"]
    assert first["url"] == f"{sandbox.npo_url(npo_id)}/course/view.php?id={courses[0]['id']}"
    await paged(sandbox, npo_id, "progress", "offset", "2")  # offset/limit pages

    event = assignment("cat-moodle-1", npo_id, offering=str(courses[0]["id"]))
    event["candidate"]["npo_user_ref"] = "2101"
    result = await enrol_once(stack, event)
    assert result["npo_enrolment_ref"] == f"2101:{courses[0]['id']}"
    [enrolment] = await sandbox.enrolments(npo_id)
    assert enrolment["body"]["enrolments[0][roleid]"] == "5"
    assert await posts(sandbox, npo_id) == [200]

    record = next(
        r
        for r in await sandbox.records(npo_id, "progress")
        if r["enrolid"] == int(enrolment["enrolment_id"])
    )
    await sandbox.upsert(npo_id, "progress", {**record, "progress": "0.40"})
    update = await wait_update(stack, "cat-moodle-1", "in_progress")
    assert update["progress"] == 0.4

    # Moodle's error convention: HTTP 200 with {"exception", "errorcode"} is a failure
    refusal = assignment("cat-moodle-x", npo_id, offering="999")
    refusal["candidate"]["npo_user_ref"] = "2103"
    await send(stack.deployment, refusal)
    [refused] = await wait_results(stack.deployment, "cat-moodle-x", timeout=TIMEOUT)
    assert refused["status"] == "failed" and "wsnoinstance" in refused["reason"], refused


async def test_canvas_template(stack: Stack) -> None:
    sandbox, npo_id = stack.sandbox, "cat-canvas"
    await sandbox.add_npo(
        npo_id, flavour="canvas", auth={"kind": "bearer", "token": TOKEN}, offerings=3
    )
    await onboard(
        stack,
        {
            "npo_id": npo_id,
            "template": "canvas@1",
            "base_url": sandbox.npo_url(npo_id),
            "auth": {"token": TOKEN},
            "params": {"per_page": 2, "account_id": "1"},
            "overrides": {"streams": {"offerings": EVERY_2S, "assignments": EVERY_2S}},
        },
    )
    revoked = "cat-canvas-401"  # onboarded with a token Canvas no longer accepts
    await sandbox.add_npo(
        revoked, flavour="canvas", auth={"kind": "bearer", "token": TOKEN}, offerings=1
    )
    await onboard(
        stack,
        {
            "npo_id": revoked,
            "template": "canvas@1",
            "base_url": sandbox.npo_url(revoked),
            "auth": {"token": "revoked-token"},
        },
    )
    courses = [
        c for c in await sandbox.records(npo_id, "offerings") if c["workflow_state"] != "deleted"
    ]
    await offerings(stack, npo_id, {str(c["id"]) for c in courses})
    await paged(sandbox, npo_id, "offerings", "page", "2")  # Link: <...page=2>; rel="next"

    # Canvas throttles with 429 and Retry-After: the enrolment waits and is made once
    await sandbox.set_faults(
        npo_id, endpoint="enrol", fail_next=[{"status": 429, "retry_after": 1}]
    )
    event = assignment("cat-canvas-1", npo_id, offering=str(courses[0]["id"]))
    event["candidate"]["npo_user_ref"] = "2101"
    result = await enrol_once(stack, event)
    [enrolment] = await sandbox.enrolments(npo_id)
    assert result["npo_enrolment_ref"] == enrolment["enrolment_id"]
    assert await posts(sandbox, npo_id) == [429, 200]

    record = next(
        r
        for r in await sandbox.records(npo_id, "progress")
        if str(r["id"]) == enrolment["enrolment_id"]
    )
    await sandbox.upsert(npo_id, "progress", {**record, "grades": {"current_score": 40.0}})
    update = await wait_update(stack, "cat-canvas-1", "in_progress")
    assert update["score"] == 40.0

    # 404 for a course Canvas does not know: a permanent refusal with Canvas's message
    await send(stack.deployment, assignment("cat-canvas-x", npo_id, offering="999999"))
    [refused] = await wait_results(stack.deployment, "cat-canvas-x", timeout=TIMEOUT)
    assert refused["status"] == "failed" and "404" in refused["reason"], refused

    # 401 for a token Canvas does not accept: WWW-Authenticate and {"errors": [{"message"}]}
    error = await pull_error(stack, revoked)
    assert "HTTP 401" in error and "Invalid access token." in error, error
    assert {r["status"] for r in await sandbox.requests(revoked)} == {401}
    await deactivate(stack, revoked)


async def test_salesforce_template(stack: Stack) -> None:
    sandbox, npo_id = stack.sandbox, "cat-salesforce"
    await sandbox.add_npo(
        npo_id,
        flavour="salesforce",
        auth={"kind": "oauth2_client_credentials", **CLIENT},
        offerings=3,
        options={"page_size": 2, "honours_idempotency": False},  # as Salesforce: no replays
    )
    await onboard(
        stack,
        {
            "npo_id": npo_id,
            "template": "salesforce@1",
            "base_url": sandbox.npo_url(npo_id),
            "auth": CLIENT,
            "params": {"namespace": ""},  # the simulator's objects are unmanaged
            "overrides": {"streams": {"offerings": EVERY_2S, "assignments": EVERY_2S}},
        },
    )
    programmes = [p["Id"] for p in await sandbox.records(npo_id, "offerings")]
    events = await offerings(stack, npo_id, set(programmes))
    assert {e["offering"]["kind"] for e in events.values()} == {"programme"}

    async def query_more() -> bool:  # the second page, at nextRecordsUrl
        return any(
            "/query/01g" in r["path"] and r["status"] == 200 for r in await sandbox.requests(npo_id)
        )

    await eventually(query_more, timeout=TIMEOUT, what="a nextRecordsUrl page")

    # enrolment is an upsert on an External ID holding the assignment id: Salesforce creates the
    # engagement, then its answer is lost (503); sent again, the same PATCH updates it (200)
    await sandbox.set_faults(npo_id, endpoint="enrol", fail_next=[{"commit_then_status": 503}])
    result = await enrol_once(stack, assignment("cat-sf-1", npo_id, offering=programmes[0]))
    [engagement] = await sandbox.enrolments(npo_id)
    assert result["npo_enrolment_ref"] == engagement["enrolment_id"]
    upserts = await enrol_requests(sandbox, npo_id)
    assert [(r["method"], r["status"]) for r in upserts] == [("PATCH", 503), ("PATCH", 200)]
    assert {
        r["path"].rsplit("/", 2)[-2:] == ["Spotlight_Assignment_Id__c", "cat-sf-1"] for r in upserts
    } == {True}
    held = [
        r
        for r in await sandbox.records(npo_id, "progress")
        if r.get("Spotlight_Assignment_Id__c") == "cat-sf-1"
    ]
    assert [r["Id"] for r in held] == [engagement["enrolment_id"]]
    await sandbox.upsert(
        npo_id,
        "progress",
        {"Id": engagement["enrolment_id"], "Stage__c": "In Progress", "Progress__c": 60},
    )
    update = await wait_update(stack, "cat-sf-1", "in_progress")
    assert update["progress"] == 0.6

    # Salesforce's error array: [{"errorCode", "message"}] on a 400, its message in the reason
    await send(stack.deployment, assignment("cat-sf-x", npo_id, offering="a0Xnotaprogram"))
    [refused] = await wait_results(stack.deployment, "cat-sf-x", timeout=TIMEOUT)
    assert refused["status"] == "failed", refused
    assert "HTTP 400: invalid cross reference id" in refused["reason"], refused


async def test_civicrm_template(stack: Stack) -> None:
    sandbox, npo_id = stack.sandbox, "cat-civicrm"
    key = f"Bearer {TOKEN}"
    await sandbox.add_npo(
        npo_id,
        flavour="civicrm",
        auth={"kind": "api_key_header", "header_name": "X-Civi-Auth", "api_key": key},
        offerings=3,
    )
    await onboard(
        stack,
        {
            "npo_id": npo_id,
            "template": "civicrm@1",
            "base_url": sandbox.npo_url(npo_id),
            "auth": {"key": key},
            "params": {"page_size": 2},
            "overrides": {"streams": {"assignments": EVERY_2S}},
        },
    )
    bare = "cat-civicrm-bare"  # calls without X-Requested-With: CiviCRM's CSRF guard refuses them
    await sandbox.add_npo(
        bare,
        flavour="civicrm",
        auth={"kind": "api_key_header", "header_name": "X-Civi-Auth", "api_key": key},
        offerings=1,
    )
    await onboard(
        stack,
        {
            "npo_id": bare,
            "template": "civicrm@1",
            "base_url": sandbox.npo_url(bare),
            "auth": {"key": key},
            "overrides": {"headers": {"X-Requested-With": None}},
        },
    )
    events = await sandbox.records(npo_id, "offerings")
    published = await offerings(stack, npo_id, {str(e["id"]) for e in events})
    first = published[str(events[0]["id"])]["offering"]
    assert (first["title"], first["kind"]) == (events[0]["title"], "programme")
    assert first["starts_at"].startswith(events[0]["start_date"][:10])

    # APIv4 pages by limit and offset inside its one JSON "params": the third event is page 2
    pages = [
        json.loads(r["query"]["params"])
        for r in await sandbox.requests(npo_id)
        if r["endpoint"] == "offerings" and r["status"] == 200
    ]
    assert [(p["limit"], p["offset"]) for p in pages[:2]] == [(2, 0), (2, 2)], pages

    # every call carried X-Requested-With (else CiviCRM answers 400) and passed AuthX
    assert {r["status"] for r in await sandbox.requests(npo_id)} == {200}

    event = assignment("cat-civi-1", npo_id, offering=str(events[0]["id"]))
    event["candidate"]["npo_user_ref"] = "2101"
    result = await enrol_once(stack, event)
    [participant] = await sandbox.enrolments(npo_id)
    assert result["npo_enrolment_ref"] == participant["enrolment_id"]
    assert participant["candidate"] == {"contact_id": 2101}
    assert await posts(sandbox, npo_id) == [200]

    record = next(
        r
        for r in await sandbox.records(npo_id, "progress")
        if str(r["id"]) == participant["enrolment_id"]
    )
    await sandbox.upsert(npo_id, "progress", {**record, "status_id:name": "Attended"})
    update = await wait_update(stack, "cat-civi-1", "completed")
    assert update["progress"] == 1.0

    # a 403 (how CiviCRM answers a permission error) refuses the enrolment for good
    await sandbox.set_faults(npo_id, endpoint="enrol", fail_next=[{"status": 403}])
    refusal = assignment("cat-civi-x", npo_id, offering=str(events[1]["id"]))
    refusal["candidate"]["npo_user_ref"] = "2102"
    await send(stack.deployment, refusal)
    [refused] = await wait_results(stack.deployment, "cat-civi-x", timeout=TIMEOUT)
    assert refused["status"] == "failed" and "HTTP 403" in refused["reason"], refused
    assert len(await sandbox.enrolments(npo_id)) == 1

    # CiviCRM's own refusal, not an injected one: 400 {"error_code", "error_message"} from the
    # AJAX page's CSRF guard, its message in the pull's error
    error = await pull_error(stack, bare)
    assert "HTTP 400: SECURITY ALERT: Ajax requests can only be issued" in error, error
    await deactivate(stack, bare)


async def test_blackbaud_template_with_rotating_refresh_tokens(stack: Stack) -> None:
    sandbox, npo_id = stack.sandbox, "cat-blackbaud"
    # strict rotation: each refresh token is revoked on use, a reused one revokes the grant
    await sandbox.add_npo(
        npo_id, flavour="blackbaud", auth=sim_auth("strict"), offerings=3, progress=12
    )
    base = sandbox.npo_url(npo_id)
    stored = await onboard(
        stack,
        {
            "npo_id": npo_id,
            "template": "blackbaud@1",
            "base_url": base,
            "auth": {  # the simulator's OAuth endpoints instead of oauth2.sky.blackbaud.com
                "authorize_url": f"{base}/oauth2/authorization",
                "token_url": "/oauth2/token",
                "redirect_uri": "https://ops.example.org/oauth/callback",
                "client_id": "spotlight",
                "client_secret": BB_SECRET,
                "subscription_key": BB_SUBSCRIPTION_KEY,
                "refresh_margin_seconds": 1,
            },
            "params": {"page_size": 2},
            "overrides": {"streams": {"offerings": EVERY_2S, "assignments": EVERY_2S}},
        },
        method="POST",
    )
    assert stored["config"]["template"] == {"name": "blackbaud", "version": 1}
    assert BB_SECRET not in json.dumps(stored) and BB_SUBSCRIPTION_KEY not in json.dumps(stored)
    await consent(sandbox, stack.deployment, stack.worker, npo_id)

    events = await sandbox.records(npo_id, "offerings")
    published = await offerings(stack, npo_id, {e["id"] for e in events})
    first = published[events[0]["id"]]["offering"]
    assert (first["title"], first["kind"]) == (events[0]["name"], "other")
    # limit/offset pages followed through next_link: events, and one event's participants
    await paged(sandbox, npo_id, "offerings", "offset", "2")
    await paged(sandbox, npo_id, "progress", "offset", "2")
    participant_paths = {
        r["path"] for r in await sandbox.requests(npo_id) if r["endpoint"] == "progress"
    }
    assert all("/event/v1/events/" in path for path in participant_paths), participant_paths

    # SKY API's quota answer is 429 with Retry-After: the enrolment waits and is made once
    await sandbox.set_faults(
        npo_id, endpoint="enrol", fail_next=[{"status": 429, "retry_after": 1}]
    )
    event = assignment("cat-bb-1", npo_id, offering=events[0]["id"])
    result = await enrol_once(stack, event)
    [participant] = await sandbox.enrolments(npo_id)
    assert result["npo_enrolment_ref"] == participant["enrolment_id"]
    assert participant["candidate"] == {"constituent_id": "user-cat-bb-1"}
    assert await posts(sandbox, npo_id) == [429, 200]

    # the participant, read back per event, is the assignment's progress
    record = next(
        r
        for r in await sandbox.records(npo_id, "progress")
        if r["id"] == participant["enrolment_id"]
    )
    await sandbox.upsert(npo_id, "progress", {**record, "rsvp_status": "Canceled"})
    await wait_update(stack, "cat-bb-1", "withdrawn")

    counters = await grant_counters(sandbox, npo_id)
    assert counters["revoked"] is False and counters["reuse_rejected"] == 0, counters
    assert counters["max_in_flight"] == 1, counters
    assert BB_SECRET not in stack.worker.output()
    await deactivate(stack, npo_id)
