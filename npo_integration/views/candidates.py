"""Admin API of a candidate's right to erasure: ``POST /admin/candidates/{candidate_id}/erase``.

The request is one ``candidate.erase`` command on partition 0 of enrolment-commands, and it is
accepted (202) once the broker has it: from there the partitions' owners erase their parts one
after another and the last publishes ``candidate.erased`` (``agents/erasure.py``). With
``?wait=true`` the answer waits for that event and shows what was removed.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

from faust import web

from npo_integration.app import app, settings
from npo_integration.delivery.once import Addressed
from npo_integration.models.codec import encode
from npo_integration.models.erasure import CandidateErase, erased_event_id
from npo_integration.models.events import utc_now
from npo_integration.partitioning import partition_for
from npo_integration.topics import candidate_erased, enrolment_commands
from npo_integration.views.admin_answers import change_source
from npo_integration.views.admin_auth import admin_only
from npo_integration.views.openapi import WAIT, documented
from npo_integration.worker_resources import batch_producer, output_log

WAIT_SECONDS = 20.0
MAX_CANDIDATE_ID = 200


@app.page("/admin/candidates/{candidate_id}/erase")
class CandidateErasure(web.View):
    @admin_only
    @documented(query=[WAIT], body=None, body_required=False)
    async def post(self, request: web.Request, candidate_id: str) -> web.Response:
        """Erase the candidate's personal data from every table: 202 once requested (durably),
        200 with ``?wait=true`` once ``candidate.erased`` is published (202 if not within 20 s)."""
        if not candidate_id.strip() or len(candidate_id) > MAX_CANDIDATE_ID:
            return self.json(
                {"error": f"candidate_id must be 1-{MAX_CANDIDATE_ID} characters"}, status=422
            )
        command = CandidateErase(
            erasure_id=str(uuid.uuid4()),
            candidate_id=candidate_id,
            partitions=settings.topic_partitions,
            requested_by=change_source(request),
            requested_at=utc_now(),
        )
        topic = candidate_erased.get_topic_name()
        partition = partition_for(candidate_id, await output_log.partitions(topic))
        start = (await output_log.end_offsets([(topic, partition)]))[(topic, partition)]
        await batch_producer.send_all_or_raise(
            [
                Addressed(
                    enrolment_commands.get_topic_name(), 0, candidate_id.encode(), encode(command)
                )
            ]
        )
        body: dict[str, Any] = {
            "candidate_id": candidate_id,
            "erasure_id": command.erasure_id,
            "status": "accepted",
            "partitions": command.partitions,
        }
        if request.query.get("wait") == "true":
            event = await _wait_for_event(
                topic, partition, erased_event_id(command.erasure_id), start
            )
            if event is not None:
                body.update(status="erased", event=event)
        return self.json(body, status=202 if body["status"] == "accepted" else 200)


async def _wait_for_event(topic: str, partition: int, event_id: str, start: int) -> Any:
    """The ``candidate.erased`` event, waiting up to WAIT_SECONDS; ``None`` if not yet there."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        value = await output_log.value_of(topic, partition, event_id, start)
        if value is not None:
            return json.loads(value)
        await asyncio.sleep(0.2)
    return None
