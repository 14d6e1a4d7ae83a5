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

from npo_integration.app import settings
from npo_integration.models.codec import encode
from npo_integration.models.enrolment import EnrolmentCommand
from npo_integration.models.events import utc_now
from npo_integration.tables import enrolments
from npo_integration.timers.periodic import RecentSends, owned_partitions, periodic
from npo_integration.topics import enrolment_commands

log = logging.getLogger(__name__)

_sent = RecentSends(resend_after=30.0)
"""Retry commands sent but not applied yet (same ``due_at``): a tick does not send them again."""


@periodic(settings.enrolment_retry_tick_seconds)
async def request_due_enrolments() -> None:
    owned = owned_partitions(enrolment_commands)
    if not owned:
        return
    now, monotonic = utc_now(), time.monotonic()
    _sent.forget_old(monotonic)
    for assignment_id, due in list(enrolments.due()):
        if due.partition not in owned or due.due_at > now:
            continue
        if not _sent.claim(assignment_id, due.due_at, monotonic):
            continue
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
