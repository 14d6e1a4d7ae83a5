"""The extraction scheduler: each worker requests the due pulls of the NPOs whose partition it owns.

Every worker runs this timer, but an NPO's fetch partition is actively owned
by exactly one worker, so each NPO is requested once across the cluster and
the duty moves with a rebalance. The request is a message, so a manual
trigger and a scheduled run take the same path.
"""

from __future__ import annotations

import logging
import time
import uuid

from npo_integration.app import app, settings
from npo_integration.models.codec import encode
from npo_integration.models.events import utc_now
from npo_integration.models.internal import FetchRequest
from npo_integration.partitioning import partition_for
from npo_integration.pull import schedule
from npo_integration.runtime import worker_id
from npo_integration.tables import npo_configs, pull_state
from npo_integration.timers.topic_setup import topics_ready
from npo_integration.topics import fetch_requests

log = logging.getLogger(__name__)

# Requests sent but not yet seen by the agent; avoids re-sending on every tick meanwhile.
# A cache of this worker's own sends, not state: losing it costs at most one duplicate request.
_recently_requested: dict[tuple[str, str], float] = {}
_RESEND_AFTER_S = 30.0


def owned_partitions() -> set[int]:
    topic = fetch_requests.get_topic_name()
    return {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == topic}


async def request_pull(npo_id: str, stream: str, reason: str = "schedule") -> FetchRequest:
    request = FetchRequest(npo_id=npo_id, stream=stream, reason=reason, trace_id=uuid.uuid4().hex)  # type: ignore[arg-type]
    await fetch_requests.send(key=npo_id.encode(), value=encode(request))
    return request


@app.timer(interval=settings.scheduler_tick_seconds)
async def request_due_pulls() -> None:
    if not topics_ready.is_set():
        return
    owned = owned_partitions()
    if not owned:
        return
    now = utc_now()
    monotonic = time.monotonic()
    for version in npo_configs.all_current():
        config = version.config
        if not config.active or partition_for(config.npo_id, settings.topic_partitions) not in owned:
            continue
        state = pull_state.get(config.npo_id)
        for name, stream in config.streams.items():
            if not stream.enabled or not schedule.is_due(state.stream(name), now, worker_id):
                continue
            sent_at = _recently_requested.get((config.npo_id, name))
            if sent_at is not None and monotonic - sent_at < min(_RESEND_AFTER_S, stream.schedule_seconds):
                continue
            _recently_requested[(config.npo_id, name)] = monotonic
            await request_pull(config.npo_id, name)
