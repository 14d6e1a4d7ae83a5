"""Admin API of removals: an NPO's held mass removals, and an operator's confirm or reject.

The holds live on the worker that owns the NPO's raw-records partition: the read view is routed
there (``table_route`` on the holds table, keyed by npo_id first). A decision is a
``RemovalDecision`` on raw-records keyed by npo_id, so the owner applies it in order with that
NPO's pages, whoever received the request.
"""

from __future__ import annotations

from typing import Any, Literal

from faust import web

from npo_integration.app import app
from npo_integration.models.codec import encode
from npo_integration.models.internal import RemovalDecision
from npo_integration.models.npo_config import StreamName
from npo_integration.models.state import RemovalHold
from npo_integration.tables import npo_configs
from npo_integration.tables.record_state import holds, holds_table
from npo_integration.topics import raw_records
from npo_integration.views.admin_answers import change_source, unknown_npo
from npo_integration.views.admin_auth import admin_only
from npo_integration.views.openapi import documented


def stream_keys(npo_id: str) -> list[StreamName]:
    """The NPO's stream keys (``offerings``, ``assignments``, ``source/stream``), as configured."""
    version = npo_configs.current(npo_id)
    return [] if version is None else [key for key, _, _ in version.config.all_streams()]


def unknown_stream(view: web.View, npo_id: str, wanted: str) -> web.Response:
    keys = ", ".join(stream_keys(npo_id)) or "none"
    return view.json(
        {"error": f"stream {wanted!r} is not one of the NPO's streams ({keys})"}, status=422
    )


HELD = "mass removal held"


def hold_summary(hold: RemovalHold) -> dict[str, Any]:
    """What an operator sees of a hold (the pulls view shows it too)."""
    return {
        "status": HELD if hold.confirmed_at is None else "mass removal confirmed",
        **hold.model_dump(mode="json", exclude={"npo_id", "stream"}),
    }


def held(npo_id: str) -> dict[str, dict[str, Any]]:
    """The NPO's holds per stream, as held by this worker."""
    found = {stream: holds.get(npo_id, stream) for stream in stream_keys(npo_id)}
    return {stream: hold_summary(hold) for stream, hold in found.items() if hold is not None}


STREAM = (
    "stream",
    {"type": "string"},
    "only this stream's hold (default: every stream's)",
)


@app.page("/admin/npos/{npo_id}/removals")
class NpoRemovals(web.View):
    @admin_only
    # Faust types a routed handler as (View, Request, *args, **kwargs): ours takes npo_id by name.
    @app.table_route(table=holds_table, match_info="npo_id")  # type: ignore[arg-type]
    async def get(self, request: web.Request, npo_id: str) -> web.Response:
        """The NPO's held mass removals per stream (empty: nothing held)."""
        if npo_configs.current(npo_id) is None:
            return unknown_npo(self, npo_id)
        return self.json({"npo_id": npo_id, "holds": held(npo_id)})


async def _decide(
    view: web.View, request: web.Request, npo_id: str, decision: Literal["confirm", "reject"]
) -> web.Response:
    if npo_configs.current(npo_id) is None:
        return unknown_npo(view, npo_id)
    wanted = request.query.get("stream")
    keys = stream_keys(npo_id)
    if wanted is not None and wanted not in keys:
        return unknown_stream(view, npo_id, wanted)
    streams = [s for s in keys if wanted in (None, s)]
    commands = [
        RemovalDecision(
            npo_id=npo_id, stream=stream, decision=decision, requested_by=change_source(request)
        )
        for stream in streams
    ]
    for command in commands:
        await (await raw_records.send(key=npo_id.encode(), value=encode(command)))
    return view.json(
        {
            "npo_id": npo_id,
            "decision": decision,
            "streams": streams,
            "command_ids": [c.event_id for c in commands],
            "status": "accepted",
        },
        status=202,
    )


@app.page("/admin/npos/{npo_id}/removals/confirm")
class ConfirmRemovals(web.View):
    @admin_only
    @documented(query=[STREAM], body=None, body_required=False)
    async def post(self, request: web.Request, npo_id: str) -> web.Response:
        """Confirm the NPO's held removals (``?stream=``, default all): the next complete sweep
        removes what it lacks, whatever the share; 202 once the decision is durable."""
        return await _decide(self, request, npo_id, "confirm")


@app.page("/admin/npos/{npo_id}/removals/reject")
class RejectRemovals(web.View):
    @admin_only
    @documented(query=[STREAM], body=None, body_required=False)
    async def post(self, request: web.Request, npo_id: str) -> web.Response:
        """Reject the NPO's held removals (``?stream=``, default all): the hold is dropped and
        nothing removed (a sweep as bad is held again); 202 once the decision is durable."""
        return await _decide(self, request, npo_id, "reject")
