"""Turns due enrolment retries into commands, on the worker that owns each enrolment's partition.

A retry is a message, not a sleep in the agent: the agent records when to try
again (``due_at``) and goes on with other assignments; this timer finds the due
ones and sends an ``enrolment.retry`` to the enrolment's own partition, so the
agent makes the attempt while processing an event of that partition (the only
place its state may be written). Only actively owned partitions are looked at,
so each retry is requested once across the cluster and the duty moves with a
rebalance. It also catches calls whose worker died mid-flight (their watchdog).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from npo_integration.app import settings
from npo_integration.models.codec import encode
from npo_integration.models.enrolment import EnrolmentCommand
from npo_integration.models.events import utc_now
from npo_integration.tables import enrolments
from npo_integration.timers.periodic import owned_partitions, periodic
from npo_integration.topics import enrolment_commands

log = logging.getLogger(__name__)

# Commands sent but not yet applied, so each tick does not send them again.
# A cache of this worker's own sends, not state: losing it costs one duplicate command at most.
_sent: dict[str, tuple[datetime, float]] = {}
_RESEND_AFTER_S = 30.0


@periodic(settings.enrolment_retry_tick_seconds)
async def request_due_enrolments() -> None:
    owned = owned_partitions(enrolment_commands)
    if not owned:
        return
    now, monotonic = utc_now(), time.monotonic()
    seen: set[str] = set()
    for assignment_id, due in list(enrolments.due()):
        if due.partition not in owned or due.due_at > now:
            continue
        seen.add(assignment_id)
        sent = _sent.get(assignment_id)
        if sent is not None and sent[0] == due.due_at and monotonic - sent[1] < _RESEND_AFTER_S:
            continue
        _sent[assignment_id] = (due.due_at, monotonic)
        command = EnrolmentCommand(
            event_type="enrolment.retry",
            npo_id=due.npo_id,
            assignment_id=assignment_id,
            due_at=due.due_at,
        )
        await enrolment_commands.send(
            key=assignment_id.encode(), value=encode(command), partition=due.partition
        )
        log.debug("retry of assignment %s requested (due %s)", assignment_id, due.due_at)
    for assignment_id in set(_sent) - seen:
        del _sent[assignment_id]
