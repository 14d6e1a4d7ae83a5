"""The state sweep's timers (``tables.state_purge``: the policy and the purge steps).

An erased NPO's OAuth2 grants (sealed refresh tokens) go here too, on the owner of their
partition: that table is written outside events, by its owner (``tables/oauth_grants.py``)."""

from __future__ import annotations

import logging
import time

from npo_integration import grant_broker
from npo_integration.app import settings
from npo_integration.models.codec import DecodeError, decode, encode
from npo_integration.models.enrolment import EnrolmentCommand
from npo_integration.models.events import utc_now
from npo_integration.models.internal import IngestCommand
from npo_integration.partitioning import partition_for
from npo_integration.tables import enrolment_links, npo_configs, oauth_grants, record_state
from npo_integration.tables.npo_configs import ConfigSummary
from npo_integration.tables.state_purge import command_key, retention
from npo_integration.timers.periodic import RecentSends, owned_partitions, periodic
from npo_integration.topics import enrolment_commands, ingest_commands, raw_records
from npo_integration.worker_resources import batch_producer

log = logging.getLogger(__name__)

_sent = RecentSends(resend_after=600.0)
"""Purges asked for lately: one in progress sends its own next steps."""


@periodic(settings.state_sweep_tick_seconds)
async def sweep_npo_state() -> None:
    owned = owned_partitions(raw_records)
    if not owned:
        return
    now, kept, monotonic = utc_now(), retention(), time.monotonic()
    _sent.forget_old(monotonic)
    asked = 0
    for npo_id, raw in npo_configs.stored():
        if partition_for(npo_id, settings.topic_partitions) not in owned:
            continue
        try:
            summary = decode(ConfigSummary, raw)
        except DecodeError as exc:
            log.warning("state sweep: config of NPO %s unreadable, skipped: %s", npo_id, exc)
            continue
        if not summary.state_expired(now, kept):
            continue
        if summary.erased:
            await _forget_grants(npo_id)
        if not (record_state.holds_npo_state(npo_id) or enrolment_links.holds_links(npo_id)):
            log.debug("state sweep: NPO %s expired, no state left here", npo_id)
            continue
        if not _sent.claim(npo_id, summary.version, monotonic):
            continue
        command = IngestCommand(
            event_type="ingest.purge", npo_id=npo_id, requested_by="state-sweep"
        )
        await ingest_commands.send(key=npo_id.encode(), value=encode(command))
        asked += 1
    if asked:
        log.info("state sweep: purge of %d deactivated NPO(s) asked for", asked)


@periodic(settings.state_sweep_tick_seconds)
async def expire_settled_enrolments() -> None:
    """One ``enrolment.expire_settled`` per enrolment-commands partition this worker owns: the
    enrolment agent deletes that partition's settled enrolments past their retention in bounded
    steps (``state_purge.purge_enrolments``). A step that finds none costs one scan of the
    partition's enrolments, once a tick."""
    command = EnrolmentCommand(event_type="enrolment.expire_settled", requested_by="state-sweep")
    for partition in sorted(owned_partitions(enrolment_commands)):
        await enrolment_commands.send(
            key=command_key(command), value=encode(command), partition=partition
        )


async def _forget_grants(npo_id: str) -> None:
    """Delete an erased NPO's OAuth2 grants, when it has some and this worker owns them."""
    if oauth_grants.get(npo_id) is None or not grant_broker.is_owner(npo_id):
        return
    await oauth_grants.durable_delete(npo_id, batch_producer)
    log.info("state sweep: NPO %s erased, its OAuth2 grants deleted", npo_id)
