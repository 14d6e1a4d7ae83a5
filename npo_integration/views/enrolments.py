"""Admin API of the push path: list an NPO's enrolments, re-drive the failed ones.

Enrolment states live on the worker that owns each assignment's partition. The
list shows this worker's partitions (named in the answer). A re-drive reaches
every partition: one ``enrolment.redrive_npo`` command per partition, and the
owner of each re-drives the failed enrolments it holds, writing their states
while processing that partition's command, as the tables require.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

from faust import web

from npo_integration.app import app, settings
from npo_integration.models.codec import encode
from npo_integration.models.enrolment import REDRIVABLE, EnrolmentCommand, EnrolmentState
from npo_integration.tables import enrolments, npo_configs
from npo_integration.timers.periodic import owned_partitions
from npo_integration.topics import enrolment_commands
from npo_integration.views.admin_answers import unknown_npo
from npo_integration.views.admin_auth import admin_only

WAIT_SECONDS = 10.0


def summary(state: EnrolmentState) -> dict[str, Any]:
    return {
        "assignment_id": state.assignment_id,
        "status": state.status,
        "attempts": state.attempts,
        "npo_enrolment_ref": state.npo_enrolment_ref,
        "reason": state.reason,
        "due_at": state.due_at.isoformat() if state.due_at else None,
        "redrives": state.redrives,
        "candidate_id": state.assignment.candidate.candidate_id,
        "npo_offering_ref": state.assignment.offering.npo_offering_ref,
        "updated_at": state.updated_at.isoformat(),
    }


def _unknown(view: web.View, npo_id: str) -> web.Response | None:
    if npo_configs.current(npo_id) is None:
        return unknown_npo(view, npo_id)
    return None


@app.page("/admin/npos/{npo_id}/enrolments")
class NpoEnrolments(web.View):
    @admin_only
    async def get(self, request: web.Request, npo_id: str) -> web.Response:
        """``?status=failed`` narrows the list; ``counts`` covers every status."""
        refusal = _unknown(self, npo_id)
        if refusal is not None:
            return refusal
        states = sorted(enrolments.of_npo(npo_id), key=lambda s: (s.created_at, s.assignment_id))
        wanted = request.query.get("status")
        return self.json(
            {
                "npo_id": npo_id,
                "partitions": sorted(owned_partitions(enrolment_commands)),
                "counts": dict(Counter(s.status for s in states)),
                "enrolments": [summary(s) for s in states if wanted in (None, s.status)],
            }
        )


@app.page("/admin/npos/{npo_id}/enrolments/redrive")
class NpoEnrolmentRedrive(web.View):
    @admin_only
    async def post(self, request: web.Request, npo_id: str) -> web.Response:
        """202 once a command is on every partition; ``?wait=true``
        waits for this worker's share."""
        refusal = _unknown(self, npo_id)
        if refusal is not None:
            return refusal
        failed_here = {
            s.assignment_id: s.redrives for s in enrolments.of_npo(npo_id) if s.status in REDRIVABLE
        }
        for partition in range(settings.topic_partitions):
            command = EnrolmentCommand(event_type="enrolment.redrive_npo", npo_id=npo_id)
            await enrolment_commands.send(
                key=npo_id.encode(), value=encode(command), partition=partition
            )
        body: dict[str, Any] = {
            "npo_id": npo_id,
            "status": "accepted",
            "partitions": settings.topic_partitions,
            "failed_seen_here": len(failed_here),
        }
        if request.query.get("wait") == "true":
            body["redriven_here"] = await _wait_for_redrive(failed_here)
            body["status"] = "applied" if body["redriven_here"] == len(failed_here) else "accepted"
        return self.json(body, status=202 if body["status"] == "accepted" else 200)


async def _wait_for_redrive(before: dict[str, int]) -> int:
    """How many of ``before`` (assignment -> redrives) were re-driven,
    waiting up to WAIT_SECONDS."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        done = 0
        for assignment_id, redrives in before.items():
            state = enrolments.get(assignment_id)
            done += state is not None and state.redrives > redrives
        if done == len(before) or time.monotonic() >= deadline:
            return done
        await asyncio.sleep(0.1)
