"""Admin API of the push path: list an NPO's enrolments, re-drive the failed ones, settle an
``unknown`` one (the operator confirms it, with the NPO's enrolment id, or has it sent again).

Enrolment states live on the worker that owns each assignment's partition. The
list shows this worker's partitions (named in the answer). A re-drive reaches
every partition: one ``enrolment.redrive_npo`` command per partition, and the
owner of each re-drives the failed enrolments it holds, writing their states
while processing that partition's command, as the tables require. A decision on
one enrolment is one command keyed by its assignment_id, on the assignment's
partition, applied by its owner the same way.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any, Literal

from faust import web
from pydantic import BaseModel, ConfigDict, Field

from npo_integration.app import app, settings
from npo_integration.models.codec import encode
from npo_integration.models.enrolment import REDRIVABLE, EnrolmentCommand, EnrolmentState
from npo_integration.partitioning import partition_for
from npo_integration.tables import enrolments, npo_configs
from npo_integration.timers.periodic import owned_partitions
from npo_integration.topics import enrolment_commands
from npo_integration.views.admin_answers import change_source, model_body, unknown_npo
from npo_integration.views.admin_auth import admin_only
from npo_integration.views.openapi import WAIT, documented

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
        "erased_at": state.erased_at.isoformat() if state.erased_at else None,
    }


def _unknown(view: web.View, npo_id: str) -> web.Response | None:
    if npo_configs.current(npo_id) is None:
        return unknown_npo(view, npo_id)
    return None


@app.page("/admin/npos/{npo_id}/enrolments")
class NpoEnrolments(web.View):
    @admin_only
    @documented(query=[("status", {"type": "string"}, "only enrolments in this status")])
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
    @documented(query=[WAIT])
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


class OperatorConfirm(BaseModel):
    """Body of a confirm: the NPO's id of the enrolment, when the operator found it."""

    model_config = ConfigDict(extra="forbid")

    npo_enrolment_ref: str | None = Field(None, min_length=1, max_length=500)


async def _decide(
    view: web.View,
    request: web.Request,
    npo_id: str,
    assignment_id: str,
    decision: Literal["enrolment.confirm", "enrolment.resend"],
    npo_enrolment_ref: str | None = None,
) -> web.Response:
    """Send the operator's decision to the assignment's partition; ``?wait=true`` waits for it
    when this worker holds the enrolment. 409 when this worker holds it and it is not unknown."""
    refusal = _unknown(view, npo_id)
    if refusal is not None:
        return refusal
    held = enrolments.get(assignment_id)
    if held is not None and held.npo_id != npo_id:
        return view.json({"error": f"assignment {assignment_id!r} is not {npo_id!r}'s"}, status=404)
    if held is not None and held.status != "unknown":
        return view.json(
            {"error": f"assignment {assignment_id!r} is {held.status}, not unknown"}, status=409
        )
    command = EnrolmentCommand(
        event_type=decision,
        npo_id=npo_id,
        assignment_id=assignment_id,
        npo_enrolment_ref=npo_enrolment_ref,
        requested_by=change_source(request),
    )
    partition = (
        held.partition
        if held is not None
        else partition_for(assignment_id, settings.topic_partitions)
    )
    await enrolment_commands.send(
        key=assignment_id.encode(), value=encode(command), partition=partition
    )
    body: dict[str, Any] = {
        "npo_id": npo_id,
        "assignment_id": assignment_id,
        "command_id": command.event_id,
        "status": "accepted",
    }
    if held is not None and request.query.get("wait") == "true":
        after = await _wait_for_change(assignment_id, held)
        if after is not None:
            body.update(status="applied", enrolment=summary(after))
    return view.json(body, status=202 if body["status"] == "accepted" else 200)


async def _wait_for_change(assignment_id: str, before: EnrolmentState) -> EnrolmentState | None:
    """The enrolment once it left ``unknown``, waiting up to WAIT_SECONDS."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        state = enrolments.get(assignment_id)
        if state is not None and state.updated_at != before.updated_at:
            return state
        await asyncio.sleep(0.1)
    return None


@app.page("/admin/npos/{npo_id}/enrolments/{assignment_id}/confirm")
class EnrolmentConfirm(web.View):
    @admin_only
    @documented(query=[WAIT], body=OperatorConfirm, body_required=False)
    async def post(self, request: web.Request, npo_id: str, assignment_id: str) -> web.Response:
        """The NPO has this enrolment: ``{"npo_enrolment_ref": "..."}`` (optional) is its id."""
        try:
            decision = await model_body(request, OperatorConfirm, empty=OperatorConfirm())
        except ValueError as exc:
            return self.json({"error": str(exc)}, status=422)
        return await _decide(
            self, request, npo_id, assignment_id, "enrolment.confirm", decision.npo_enrolment_ref
        )


@app.page("/admin/npos/{npo_id}/enrolments/{assignment_id}/retry")
class EnrolmentRetry(web.View):
    @admin_only
    @documented(query=[WAIT])
    async def post(self, request: web.Request, npo_id: str, assignment_id: str) -> web.Response:
        """The NPO does not have this enrolment: send it again, with fresh attempts."""
        return await _decide(self, request, npo_id, assignment_id, "enrolment.resend")
