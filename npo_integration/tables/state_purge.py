"""The state sweep: a deactivated NPO's state is deleted once it has been deactivated for
``NPO_STATE_RETENTION_DAYS`` (docs/operations.md, "Bounded state"), so state stays bounded by the
NPOs in use, not by every NPO ever registered.

A timer cannot write tables (there is no current event), so each worker's tick sends an
``ingest.purge`` command for each expired NPO on the raw-records partitions it owns that still
has state there; the ingest-commands agent (same key, same partition) deletes a bounded batch of
record states, unprocessed records, removal holds and enrolment links, and sends the next step
while some is left. The last step sends ``enrolment.purge_npo`` to every enrolment-commands
partition (enrolments are keyed by assignment). Each step checks the NPO again: one reactivated
in between keeps what is left. Deletions are changelog tombstones, counted in
``npo_state_purged{table}`` and logged.

Settled enrolments of any NPO (``EnrolmentState.settled``) go too once settled for
``NPO_ENROLMENT_RETENTION_DAYS``: each tick sends ``enrolment.expire_settled`` to every
enrolment-commands partition the worker owns, and the enrolment agent deletes them in the same
bounded steps as an NPO's enrolments (``purge_enrolments``). That step also deletes, whatever
their status, the enrolments of an NPO whose state is due to go (``expired``): an NPO with
enrolments and no record states on this worker is not reached by its own purge.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import cache

from npo_integration import metrics
from npo_integration.app import settings
from npo_integration.models.codec import DecodeError, decode, encode
from npo_integration.models.enrolment import EnrolmentCommand
from npo_integration.models.events import utc_now
from npo_integration.models.internal import IngestCommand
from npo_integration.tables import enrolment_links, enrolments, npo_configs, record_state
from npo_integration.tables.npo_configs import ConfigSummary
from npo_integration.topics import enrolment_commands, ingest_commands

log = logging.getLogger(__name__)


def retention() -> timedelta:
    return timedelta(days=settings.state_retention_days)


def enrolment_retention() -> timedelta:
    return timedelta(days=settings.enrolment_retention_days)


def expired(npo_id: str) -> bool:
    """The NPO's current config says its state may go (read again at every step): deactivated
    past the retention, or erased (at once: ``ConfigSummary.state_expired``)."""
    raw = npo_configs.current_raw(npo_id)
    if raw is None:
        return False
    try:
        summary = decode(ConfigSummary, raw)
    except DecodeError:
        return False
    return summary.state_expired(utc_now(), retention())


async def purge_step(command: IngestCommand) -> None:
    """One bounded step of an NPO's purge, in the ingest-commands event of its partition."""
    npo_id = command.npo_id
    if not expired(npo_id):
        log.info("state sweep: NPO %s is no longer due for a purge; its state is kept", npo_id)
        return
    limit = settings.state_sweep_batch
    deleted = record_state.purge_npo(npo_id, limit)
    links = enrolment_links.purge_npo(npo_id, limit - sum(deleted.values()))
    if links:
        deleted["npo-enrolment-links"] = links
    for table, count in deleted.items():
        metrics.state_purged.labels(table).inc(count)
    total = sum(deleted.values())
    if total >= limit:
        log.info(
            "state sweep: NPO %s, %d entries deleted (%s); more next step", npo_id, total, deleted
        )
        await ingest_commands.send(key=npo_id.encode(), value=encode(command))
        return
    log.info(
        "state sweep: NPO %s, %d entries deleted (%s); its enrolments next", npo_id, total, deleted
    )
    for partition in range(settings.topic_partitions):
        step = EnrolmentCommand(event_type="enrolment.purge_npo", npo_id=npo_id)
        await enrolment_commands.send(key=npo_id.encode(), value=encode(step), partition=partition)


async def purge_enrolments(command: EnrolmentCommand, partition: int) -> None:
    """One bounded step of deleting enrolments on ``partition`` (in that partition's event): an
    expired NPO's (``enrolment.purge_npo``), or the settled ones past the enrolment retention
    (``enrolment.expire_settled``); the next step goes to the same partition while some are left."""
    limit = settings.state_sweep_batch
    if command.event_type == "enrolment.expire_settled":
        what = "settled or orphaned enrolment(s)"
        deleted, more = enrolments.expire_settled(
            partition, utc_now(), enrolment_retention(), limit, cache(expired)
        )
    else:
        npo_id = command.npo_id or ""
        if not expired(npo_id):
            return
        what = f"NPO {npo_id}'s enrolment(s)"
        deleted, more = enrolments.purge_npo(npo_id, partition, limit)
    if deleted:
        metrics.state_purged.labels("npo-enrolments").inc(deleted)
        log.info("state sweep: %d %s of partition %d deleted", deleted, what, partition)
    if more:
        await enrolment_commands.send(
            key=command_key(command), value=encode(command), partition=partition
        )


def command_key(command: EnrolmentCommand) -> bytes:
    """A sweep step's key: its NPO, or the sweep's name (the partition is given explicitly)."""
    return (command.npo_id or "expire-settled").encode()
