"""One NPO with two systems over the real broker: a Moodle-style LMS (source ``main``, as an NPO
that had only Moodle and then added its CRM) and a Salesforce-style CRM (source ``crm``), each
a separate simulated NPO.

What a platform consumer reads: offerings of both systems (the CRM's as ``crm:REF``), progress
of both tied to the assignment that enrolled it; what each system received: an assignment's
enrolment at the system its offering came from, once; and with one system down, the other's
new offerings and progress still arrive.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

import pytest

from tests.integration.conftest import Deployment, Stack
from tests.integration.support.admin import admin
from tests.integration.support.kafka import read_all
from tests.integration.support.polling import eventually
from tests.integration.support.processes import ROOT, SandboxProcess
from tests.integration.test_enrolment import (
    assignment,
    enrol_requests,
    results_for,
    send,
    wait_results,
)

MOODLE_TOKEN = "moodle-token"
CRM_CLIENT = {"client_id": "spotlight", "client_secret": "crm-secret"}
TIMEOUT = 45.0  # pulls run every 2 s; a worker on a busy 2-core machine may take a while
NEW_COURSE = {
    "fullname": "Data skills",
    "shortname": "DS",
    "summary": "<p>New</p>",
    "startdate": 0,
    "enddate": 0,
    "visible": 1,
    "format": "topics",
}


@dataclass(frozen=True)
class Npo:
    """The NPO under test and its two simulated systems; ``lms`` is its LMS source's name."""

    npo_id: str
    lms: str

    @property
    def lms_system(self) -> str:
        return f"{self.npo_id}-lms"

    @property
    def crm_system(self) -> str:
        return f"{self.npo_id}-crm"

    def course(self, course_id: object) -> str:
        """A course's reference on the platform: prefixed unless the LMS is ``main``."""
        return str(course_id) if self.lms == "main" else f"{self.lms}:{course_id}"


def two_systems_config(sandbox: SandboxProcess, npo: Npo) -> dict[str, Any]:
    """The example of the docs (examples/sources/two-systems.json) pointed at the simulator,
    its LMS source named ``npo.lms``, every stream pulled every 2 s."""
    example = json.loads((ROOT / "examples" / "sources" / "two-systems.json").read_text())
    lms, crm = (copy.deepcopy(s) for s in example["sources"])
    lms["name"] = npo.lms
    lms["base_url"] = sandbox.npo_url(npo.lms_system)
    lms["auth"] = {"kind": "api_key_query", "param": "wstoken", "key": MOODLE_TOKEN}
    url = lms["transform"]["mapping"]["offering"]["fields"]["url"]
    url["template"] = sandbox.npo_url(npo.lms_system) + "/course/view.php?id={id}"
    crm["base_url"] = sandbox.npo_url(npo.crm_system)
    crm["auth"] = {"kind": "oauth2_client_credentials", "token_url": "/oauth/token", **CRM_CLIENT}
    for source in (lms, crm):
        source["retry"] = {"max_attempts": 2, "backoff_base_seconds": 0.2, "backoff_max_seconds": 1}
        source["circuit_breaker"] = {"failure_threshold": 3, "reset_after_seconds": 2}
        source["enrolment"]["max_attempts"] = 20
        for stream in source["streams"]:
            stream["schedule_seconds"] = 2
    return {"npo_id": npo.npo_id, "display_name": "Open Futures", "sources": [lms, crm]}


async def offering_events(deployment: Deployment, npo: Npo) -> list[dict[str, Any]]:
    return [
        m.value
        for m in await read_all(deployment.topics["offerings"])
        if m.value["npo_id"] == npo.npo_id
    ]


async def wait_offerings(deployment: Deployment, npo: Npo, refs: set[str]) -> list[dict[str, Any]]:
    async def probe() -> list[dict[str, Any]] | None:
        events = await offering_events(deployment, npo)
        return events if refs <= {e["offering"]["npo_offering_ref"] for e in events} else None

    return await eventually(probe, timeout=TIMEOUT, what=f"offerings {sorted(refs)}")


async def wait_update(stack: Stack, assignment_id: str, status: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        found = [
            m.value
            for m in await read_all(stack.deployment.topics["assignment_updated"])
            if m.key == assignment_id and m.value["status"] == status
        ]
        return found[-1] if found else None

    return await eventually(
        probe, timeout=TIMEOUT, what=f"candidate_assignment.updated {status} for {assignment_id}"
    )


async def posts(sandbox: SandboxProcess, system: str, kind: str = "enrol") -> list[int | None]:
    """The statuses of the system's answers to enrol (or unenrol) requests, in order."""
    return [r["status"] for r in await enrol_requests(sandbox, system, kind)]


def lms_assignment(
    assignment_id: str, npo: Npo, course: str, user_id: int, *, cancelled: bool = False
) -> dict[str, Any]:
    event = assignment(assignment_id, npo.npo_id, offering=npo.course(course), cancelled=cancelled)
    event["candidate"]["npo_user_ref"] = str(user_id)  # the candidate's Moodle user id
    return event


async def register(sandbox: SandboxProcess, worker_url: str, token: str, npo: Npo) -> None:
    """The two simulated systems, and the NPO's config through the admin API."""
    await sandbox.add_npo(
        npo.lms_system,
        flavour="moodle",
        auth={"kind": "api_key_query", "api_key": MOODLE_TOKEN, "query_param": "wstoken"},
        offerings=3,
    )
    await sandbox.add_npo(
        npo.crm_system,
        flavour="salesforce",
        auth={"kind": "oauth2_client_credentials", **CRM_CLIENT},
        offerings=3,
    )
    status, body = await admin(
        worker_url,
        token,
        "PUT",
        f"/admin/npos/{npo.npo_id}?wait=true",
        two_systems_config(sandbox, npo),
    )
    assert status == 200, body


@pytest.mark.parametrize("lms", ["main", "lms"])
async def test_an_npo_with_an_lms_and_a_crm(stack: Stack, lms: str) -> None:
    sandbox = stack.sandbox
    npo = Npo(f"two-sys-{lms}", lms)
    await register(sandbox, stack.worker.url, stack.deployment.admin_token, npo)

    # Offerings of both systems, each announced once; the CRM's carry its prefix.
    courses = [
        str(c["id"])
        for c in await sandbox.records(npo.lms_system, "offerings")
        if c["format"] != "site"
    ]
    programmes = [p["Id"] for p in await sandbox.records(npo.crm_system, "offerings")]
    expected = {npo.course(c) for c in courses} | {f"crm:{p}" for p in programmes}
    assert len(expected) == 6
    events = await wait_offerings(stack.deployment, npo, expected)
    assert sorted(e["offering"]["npo_offering_ref"] for e in events) == sorted(expected)
    assert {e["event_type"] for e in events} == {"npo_offering.created"}
    kinds = {e["offering"]["npo_offering_ref"]: e["offering"]["kind"] for e in events}
    assert kinds == {ref: "programme" if ref.startswith("crm:") else "course" for ref in expected}

    # An assignment to a course is enrolled at the LMS, one to a programme at the CRM.
    await send(stack.deployment, lms_assignment(f"{lms}-asg-lms", npo, courses[0], 2101))
    await send(
        stack.deployment, assignment(f"{lms}-asg-crm", npo.npo_id, offering=f"crm:{programmes[0]}")
    )
    [lms_result] = await wait_results(stack.deployment, f"{lms}-asg-lms", timeout=TIMEOUT)
    [crm_result] = await wait_results(stack.deployment, f"{lms}-asg-crm", timeout=TIMEOUT)
    assert lms_result["status"] == "confirmed", lms_result
    assert crm_result["status"] == "confirmed", crm_result
    assert lms_result["npo_enrolment_ref"] == f"2101:{courses[0]}"  # as the LMS knows it
    [engagement] = await sandbox.enrolments(npo.crm_system)
    assert crm_result["npo_enrolment_ref"] == engagement["enrolment_id"]  # as the CRM knows it
    assert engagement["offering_id"] == programmes[0]
    assert engagement["candidate"]["Email"] == f"{lms}-asg-crm@example.org"
    [lms_enrolment] = await sandbox.enrolments(npo.lms_system)
    assert (lms_enrolment["offering_id"], lms_enrolment["candidate"]) == (
        courses[0],
        {"userid": 2101},
    )
    assert await posts(sandbox, npo.lms_system) == [200]
    assert await posts(sandbox, npo.crm_system) == [201]

    # Progress at each system reaches the platform under the assignment that enrolled it.
    [lms_record] = await sandbox.records(npo.lms_system, "progress")
    await sandbox.upsert(npo.lms_system, "progress", {**lms_record, "progress": "0.40"})
    await sandbox.upsert(
        npo.crm_system,
        "progress",
        {"Id": engagement["enrolment_id"], "Stage__c": "In Progress", "Progress__c": 60},
    )
    lms_update = await wait_update(stack, f"{lms}-asg-lms", "in_progress")
    crm_update = await wait_update(stack, f"{lms}-asg-crm", "in_progress")
    assert (lms_update["npo_id"], lms_update["progress"]) == (npo.npo_id, 0.4)
    assert (crm_update["npo_id"], crm_update["progress"]) == (npo.npo_id, 0.6)

    # The CRM goes down: the LMS's new course, progress and enrolments still flow, and an
    # assignment to a programme waits for the CRM, then is enrolled there once.
    await sandbox.set_faults(npo.crm_system, endpoint="any", down=True)

    async def crm_refused() -> bool:
        return any(r["status"] == 503 for r in await sandbox.requests(npo.crm_system))

    await eventually(crm_refused, timeout=TIMEOUT, what="a call refused by the CRM")
    new_course = await sandbox.upsert(npo.lms_system, "offerings", NEW_COURSE)
    await sandbox.upsert(
        npo.lms_system, "progress", {**lms_record, "progress": "1.00", "completed": 1}
    )
    await send(stack.deployment, lms_assignment(f"{lms}-asg-lms-2", npo, courses[1], 2102))
    await send(
        stack.deployment,
        assignment(f"{lms}-asg-crm-2", npo.npo_id, offering=f"crm:{programmes[1]}"),
    )
    await wait_offerings(stack.deployment, npo, {npo.course(new_course["id"])})
    completed = await wait_update(stack, f"{lms}-asg-lms", "completed")
    assert completed["progress"] == 1.0
    [lms_result_2] = await wait_results(stack.deployment, f"{lms}-asg-lms-2", timeout=TIMEOUT)
    assert lms_result_2["status"] == "confirmed", lms_result_2
    assert not await results_for(stack.deployment, f"{lms}-asg-crm-2")

    await sandbox.set_faults(npo.crm_system, endpoint="any", down=False)
    [crm_result_2] = await wait_results(stack.deployment, f"{lms}-asg-crm-2", timeout=TIMEOUT)
    assert crm_result_2["status"] == "confirmed", crm_result_2
    engagements = await sandbox.enrolments(npo.crm_system)
    assert sorted(e["offering_id"] for e in engagements) == sorted(programmes[:2])
    assert [s for s in await posts(sandbox, npo.crm_system) if s != 503] == [201, 201]
    assert await posts(sandbox, npo.lms_system) == [200, 200]

    # Cancelled assignments are unenrolled at the system that enrolled them.
    await send(
        stack.deployment, lms_assignment(f"{lms}-asg-lms", npo, courses[0], 2101, cancelled=True)
    )
    await send(
        stack.deployment,
        assignment(f"{lms}-asg-crm", npo.npo_id, offering=f"crm:{programmes[0]}", cancelled=True),
    )
    lms_cancel = (await wait_results(stack.deployment, f"{lms}-asg-lms", 2, timeout=TIMEOUT))[-1]
    crm_cancel = (await wait_results(stack.deployment, f"{lms}-asg-crm", 2, timeout=TIMEOUT))[-1]
    assert (lms_cancel["status"], crm_cancel["status"]) == ("cancelled", "cancelled")
    assert await posts(sandbox, npo.lms_system, "unenrol") == [200]
    assert await posts(sandbox, npo.crm_system, "unenrol") == [204]
    assert [
        e["offering_id"]
        for e in await sandbox.enrolments(npo.crm_system)
        if e["status"] == "enrolled"
    ] == [programmes[1]]

    # The LMS's error in a 200 answer (Moodle's way) fails the enrolment: its error_in_body holds.
    await send(stack.deployment, lms_assignment(f"{lms}-asg-lms-x", npo, "999", 2103))
    [refused] = await wait_results(stack.deployment, f"{lms}-asg-lms-x", timeout=TIMEOUT)
    assert refused["status"] == "failed" and "wsnoinstance" in refused["reason"], refused
    assert len(await sandbox.enrolments(npo.lms_system)) == 2

    # Nothing was removed: no source's sweep took another source's offerings for gone ones.
    final = await offering_events(stack.deployment, npo)
    assert {e["event_type"] for e in final} == {"npo_offering.created"}
    assert len(final) == len(expected) + 1

    dead = [
        m.value
        for m in await read_all(stack.deployment.topics["dead_letters"])
        if npo.npo_id in json.dumps(m.value)
    ]
    assert dead == []


async def test_an_npo_with_two_systems_after_a_restart(
    sandbox: SandboxProcess, deployment: Deployment
) -> None:
    """Both sources' sealed credentials are read back by a new worker (tables recovered from
    their changelogs); no view shows them; the new worker pulls both systems."""
    npo = Npo("two-sys-restart", "lms")
    first = await deployment.start_worker("first")
    token = deployment.admin_token
    await register(sandbox, first.url, token, npo)
    before = {f"lms:{c['id']}" for c in await sandbox.records(npo.lms_system, "offerings")}
    before.discard("lms:1")  # Moodle's site page, not an offering
    before |= {f"crm:{p['Id']}" for p in await sandbox.records(npo.crm_system, "offerings")}
    await wait_offerings(deployment, npo, before)

    answers = [
        await admin(first.url, token, "GET", f"/admin/npos/{npo.npo_id}{path}")
        for path in ("", "/versions", "/pulls")
    ]
    assert [status for status, _ in answers] == [200, 200, 200], answers
    shown = json.dumps([body for _, body in answers])
    assert MOODLE_TOKEN not in shown and CRM_CLIENT["client_secret"] not in shown
    streams = set(answers[2][1]["streams"])
    assert streams == {"lms/courses", "lms/course-progress", "crm/programmes", "crm/engagements"}

    first.stop()
    await deployment.start_worker("second")
    course = await sandbox.upsert(npo.lms_system, "offerings", NEW_COURSE)
    programme = await sandbox.upsert(
        npo.crm_system,
        "offerings",
        {"attributes": {"type": "Program__c"}, "Name": "Mentoring", "Status__c": "Active"},
    )
    after = {f"lms:{course['id']}", f"crm:{programme['Id']}"}
    events = await wait_offerings(deployment, npo, after)
    refs = [e["offering"]["npo_offering_ref"] for e in events]
    assert sorted(refs) == sorted(before | after)  # nothing published twice
