"""``POST /admin/npos/{npo_id}/diff``: replay a mapping change over the NPO's kept offering records
(:mod:`npo_integration.registry.replay`) and report what would change; nothing is published.

Routed to the owner of the NPO's partition, which holds its kept records. With ``"apply": true``
the config is registered as a ``PUT`` would, and once this worker has it, only the records whose
events changed are re-emitted: each onto raw-records as a re-emit's page (``RawPage.re_emit``, the
same path as ``fetch --re-emit``), with the content and fetch time it was kept with, so a newer
fetch of the record wins over it.
"""

from __future__ import annotations

import uuid

from faust import web

from npo_integration.app import app, settings
from npo_integration.errors import ConfigError
from npo_integration.json_input import JsonInputError
from npo_integration.models.codec import encode
from npo_integration.models.internal import RawPage, RawRecord
from npo_integration.registry.replay import Differ, DiffRequest, Kept, Replay
from npo_integration.tables import npo_configs, pull_state
from npo_integration.tables.record_state import payloads
from npo_integration.topics import raw_records
from npo_integration.views.admin_answers import change_source, json_body, unknown_npo
from npo_integration.views.admin_auth import admin_only
from npo_integration.views.npos import _wait_for_version
from npo_integration.views.openapi import documented
from npo_integration.views.preview import parse_with_config
from npo_integration.worker_resources import (
    config_submitter,
    plugin_registry,
    plugin_runner,
)


def _kept(npo_id: str, stream: str) -> list[Kept]:
    return [Kept(key, kept) for key, kept in payloads.of_stream(npo_id, stream)]


differ = Differ(
    submitter=config_submitter,
    plugin_registry=plugin_registry,
    plugin_runner=plugin_runner,
    transform_timeout=settings.transform_timeout_seconds,
    kept_of=_kept,
)


async def _re_emit(npo_id: str, replay: Replay) -> int:
    """The changed records onto raw-records, a re-emit's page each (one trace for the apply)."""
    trace_id = uuid.uuid4().hex
    sent = 0
    for stream, records in replay.re_emit.items():
        for record in records:
            raw = RawRecord(
                npo_id=npo_id,
                stream=stream,
                record_key=record.record_key,
                content_hash=record.kept.content_hash,
                fetched_at=record.kept.fetched_at,
                trace_id=trace_id,
                payload=record.kept.payload,
                re_emit=True,
            )
            await raw_records.send(key=npo_id.encode(), value=encode(RawPage.of(raw)))
            sent += 1
    return sent


@app.page("/admin/npos/{npo_id}/diff")
class NpoDiff(web.View):
    @admin_only
    @documented(body=DiffRequest)
    # Faust types a routed handler as (View, Request, *args, **kwargs): ours takes npo_id by name.
    @app.table_route(table=pull_state.table, match_info="npo_id")  # type: ignore[arg-type]
    async def post(self, request: web.Request, npo_id: str) -> web.Response:
        """Replay the config in the body over the NPO's kept offering records: how many platform
        events would change, which fields (with examples), which records newly fail or newly
        pass. Nothing is published unless ``apply`` is set: then the config is registered and
        only the records whose events changed are re-emitted."""
        current = npo_configs.current(npo_id)
        if current is None:
            return unknown_npo(self, npo_id)
        try:
            document = await json_body(request)
        except JsonInputError as exc:
            return self.json({"error": str(exc)}, status=400)
        try:
            body = parse_with_config(document, DiffRequest)
            if body.config.npo_id != npo_id:
                raise ConfigError(f"npo_id: the config is {body.config.npo_id!r}, not {npo_id!r}")
            replay = await differ.diff(
                body, current.config, current.version, change_source(request)
            )
        except ConfigError as exc:
            return self.json({"error": str(exc)}, status=422)
        answer = replay.answer
        if not body.apply:
            return self.json(answer.model_dump(mode="json"))
        await config_submitter.send_command(replay.command)
        version = await _wait_for_version(npo_id, current.version)
        if version is None:
            error = "the config was sent but not applied in time; nothing re-emitted"
            return self.json({**answer.model_dump(mode="json"), "error": error}, status=202)
        re_emitted = await _re_emit(npo_id, replay)
        applied = answer.model_copy(
            update={"applied": True, "version": version.version, "re_emitted": re_emitted}
        )
        return self.json(applied.model_dump(mode="json"))
