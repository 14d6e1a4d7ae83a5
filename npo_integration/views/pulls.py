"""Admin API of the pull path: run a pull now, and see an NPO's pull state
(schedule, cursor, last error).

The pull state lives on the worker that owns the NPO's partition; the read view
is routed there (Faust ``table_route``), so any worker can be asked.
"""

from __future__ import annotations

from faust import web

from npo_integration.app import app
from npo_integration.tables import npo_configs, pull_state
from npo_integration.timers.pull_scheduler import request_pull
from npo_integration.views.admin_answers import unknown_npo
from npo_integration.views.admin_auth import admin_only
from npo_integration.views.openapi import documented
from npo_integration.views.removals import held, unknown_stream


@app.page("/admin/npos/{npo_id}/fetch")
class ManualFetch(web.View):
    @admin_only
    @documented(
        query=[
            ("stream", {"type": "string"}, "one stream only (its key: offerings, crm/programmes)"),
            (
                "full_refresh",
                {"type": "string", "enum": ["true", "false"]},
                "forget the cursor and pull everything from the start",
            ),
            (
                "re_emit",
                {"type": "string", "enum": ["true", "false"]},
                "a full refresh whose every record becomes an event again, unchanged or not",
            ),
        ]
    )
    async def post(self, request: web.Request, npo_id: str) -> web.Response:
        """Request a pull of every configured stream, or of ``?stream=``; 202 with the trace ids.
        ``?full_refresh=true`` pulls from no cursor; ``?re_emit=true`` also publishes every
        record again (once per record per re-emit)."""
        try:
            full_refresh, re_emit = (_flag(request, name) for name in ("full_refresh", "re_emit"))
        except ValueError as exc:
            return self.json({"error": str(exc)}, status=400)
        version = npo_configs.current(npo_id)
        if version is None:
            return unknown_npo(self, npo_id)
        if version.change == "erase":
            return self.json({"error": f"NPO {npo_id!r} is erased: nothing to pull"}, status=409)
        if not version.config.active:
            return self.json(
                {"error": f"NPO {npo_id!r} is inactive (paused or deactivated): resume it first"},
                status=409,
            )
        wanted = request.query.get("stream")
        keys = [key for key, _, _ in version.config.all_streams()]
        if wanted is not None and wanted not in keys:
            return unknown_stream(self, npo_id, wanted)
        configured = [key for key, _, stream in version.config.all_streams() if stream.enabled]
        streams = [name for name in configured if wanted in (None, name)]
        if not streams:
            return self.json(
                {"error": f"NPO {npo_id!r} has no enabled {wanted or 'stream'}"}, status=422
            )
        requests = [
            await request_pull(
                npo_id, name, reason="manual", full_refresh=full_refresh, re_emit=re_emit
            )
            for name in streams
        ]
        return self.json(
            {
                "npo_id": npo_id,
                "full_refresh": full_refresh or re_emit,
                "re_emit": re_emit,
                "requested": [{"stream": r.stream, "trace_id": r.trace_id} for r in requests],
            },
            status=202,
        )


def _flag(request: web.Request, name: str) -> bool:
    value = request.query.get(name, "false")
    if value not in ("true", "false"):
        raise ValueError(f"{name}: must be true or false, not {value!r}")
    return value == "true"


@app.page("/admin/npos/{npo_id}/pulls")
class PullStateView(web.View):
    @admin_only
    # Faust types a routed handler as (View, Request, *args, **kwargs): ours takes npo_id by name.
    @app.table_route(table=pull_state.table, match_info="npo_id")  # type: ignore[arg-type]
    async def get(self, request: web.Request, npo_id: str) -> web.Response:
        """The NPO's pull state: schedule, cursor and last error of each stream."""
        if npo_configs.current(npo_id) is None:
            return unknown_npo(self, npo_id)
        answer = pull_state.get(npo_id).model_dump(mode="json")
        # Held on the raw-records partition of the same number: this worker's, as a rule
        answer["removal_holds"] = held(npo_id)
        return self.json(answer)
