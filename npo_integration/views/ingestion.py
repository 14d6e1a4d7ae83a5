"""Admin API of the ingestion path: what is unprocessed for an NPO, and re-driving it on demand.

Both act on the worker that owns the NPO's raw-records partition: the read view
is routed there (Faust ``table_route`` on the unprocessed-records table, keyed
like it by npo_id); the re-drive is a command on the ingest-commands topic keyed
by npo_id, so the owner runs it whoever received the request, even across a
rebalance.
"""

from __future__ import annotations

from typing import Any

from faust import web

from npo_integration.app import app, settings
from npo_integration.models.codec import encode
from npo_integration.models.internal import IngestCommand
from npo_integration.models.state import UnprocessedRecord
from npo_integration.partitioning import partition_for
from npo_integration.tables import npo_configs
from npo_integration.tables.record_state import unprocessed, unprocessed_table
from npo_integration.topics import ingest_commands, raw_records
from npo_integration.views.admin_answers import change_source, unknown_npo
from npo_integration.views.admin_auth import admin_only
from npo_integration.views.openapi import documented


def _summary(entry: UnprocessedRecord) -> dict[str, Any]:
    raw = entry.raw
    return {
        "record_key": raw.record_key,
        "stream": raw.stream,
        "content_hash": raw.content_hash,
        "fetched_at": raw.fetched_at.isoformat(),
        "reason": entry.reason,
        "attempts": entry.attempts,
        "first_failed_at": entry.first_failed_at.isoformat(),
        "last_failed_at": entry.last_failed_at.isoformat(),
        "next_attempt_at": entry.next_attempt_at.isoformat(),
    }


def _held_here(npo_id: str) -> bool:
    partition = partition_for(npo_id, settings.topic_partitions)
    topic = raw_records.get_topic_name()
    return any(
        tp.topic == topic and tp.partition == partition for tp in app.assignor.assigned_actives()
    )


@app.page("/admin/npos/{npo_id}/records")
class NpoRecords(web.View):
    @admin_only
    @documented(query=[("state", {"type": "string", "enum": ["unprocessed"]}, "the only state")])
    # Faust types a routed handler as (View, Request, *args, **kwargs): ours takes npo_id by name.
    @app.table_route(table=unprocessed_table, match_info="npo_id")  # type: ignore[arg-type]
    async def get(self, request: web.Request, npo_id: str) -> web.Response:
        """``?state=unprocessed``: the NPO's records that did not
        become events, with the reasons."""
        if request.query.get("state", "unprocessed") != "unprocessed":
            return self.json({"error": "state must be 'unprocessed'"}, status=422)
        if npo_configs.current(npo_id) is None:
            return unknown_npo(self, npo_id)
        entries = unprocessed.of_npo(npo_id)
        return self.json(
            {
                "npo_id": npo_id,
                "state": "unprocessed",
                "partition_held": _held_here(npo_id),
                "count": len(entries),
                "records": [_summary(e) for e in entries],
            }
        )


@app.page("/admin/npos/{npo_id}/dead-letters/redrive")
class NpoRedrive(web.View):
    @admin_only
    async def post(self, request: web.Request, npo_id: str) -> web.Response:
        """Re-emit every unprocessed record of the NPO, whatever its attempts; 202
        once the command is durable."""
        if npo_configs.current(npo_id) is None:
            return unknown_npo(self, npo_id)
        command = IngestCommand(npo_id=npo_id, requested_by=change_source(request))
        await (await ingest_commands.send(key=npo_id.encode(), value=encode(command)))
        return self.json(
            {"npo_id": npo_id, "command_id": command.event_id, "status": "accepted"}, status=202
        )
