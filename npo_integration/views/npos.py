"""Admin API of the registry: create, replace, deactivate, erase and read NPO configs (secrets
redacted).

Writes go through the same command path as the CLI and the npo-assessed topic;
``?wait=true`` answers once the new version is in this worker's table.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from faust import web
from pydantic import ValidationError

from npo_integration.app import app
from npo_integration.errors import ConfigError, NpoIntegrationError
from npo_integration.json_input import JsonInputError
from npo_integration.models.events import utc_now
from npo_integration.models.internal import ConfigCommand
from npo_integration.models.npo_config import NpoConfigVersion, NpoIntegrationConfig
from npo_integration.registry.config_input import read_config
from npo_integration.registry.submit import deactivate_command, erase_command, reseal_command
from npo_integration.registry.versioning import next_version
from npo_integration.registry.warnings import config_warnings
from npo_integration.tables import npo_configs
from npo_integration.validation_errors import describe_validation_error
from npo_integration.views.admin_answers import change_source, json_body, unknown_npo
from npo_integration.views.admin_auth import admin_only
from npo_integration.views.openapi import WAIT, documented
from npo_integration.worker_resources import call_caps, config_submitter, secret_box

WAIT_SECONDS = 10.0
LIST_LIMIT = 100
MAX_LIST_LIMIT = 1000


def redacted(version: NpoConfigVersion) -> dict[str, Any]:
    return version.model_dump(mode="json", context={"redact": True})


def with_warnings(version: NpoConfigVersion) -> dict[str, Any]:
    """A version of the history, with what its config implies that an operator should know."""
    return {**redacted(version), "warnings": config_warnings(version.config, call_caps)}


class InvalidJsonError(ConfigError):
    """The request body is not JSON, not UTF-8 or nested too deeply (400, where a well-formed but
    invalid config is 422)."""


def _refusal(view: web.View, exc: ConfigError) -> web.Response:
    return view.json({"error": str(exc)}, status=400 if isinstance(exc, InvalidJsonError) else 422)


async def _parse_config(request: web.Request) -> NpoIntegrationConfig:
    try:
        document = await json_body(request)
    except JsonInputError as exc:
        raise InvalidJsonError(str(exc)) from None
    try:
        return read_config(document)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None


async def _wait_for_version(npo_id: str, after: int) -> NpoConfigVersion | None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        current = npo_configs.current(npo_id)
        if current is not None and current.version > after:
            return current
        await asyncio.sleep(0.1)
    return None


def _changes_nothing(current: NpoConfigVersion, command: ConfigCommand) -> bool:
    """The command makes no new version of ``current`` (the registry's own rule): a ``?wait``
    would wait for a version that never comes."""
    try:
        return next_version(current, command, utc_now(), secret_box) is None
    except NpoIntegrationError:
        return False  # refused when applied: dead-lettered, and the wait says "not yet applied"


async def _accept(view: web.View, request: web.Request, command: ConfigCommand) -> web.Response:
    """Send the command, then answer: 200 ``unchanged`` when it changes nothing in the version
    this worker holds, else 202 ``accepted`` (``?wait=true``: 200 ``applied`` once its version
    is here). The command is sent either way, so it lands after any command sent before it
    that this worker has not applied yet (a pause and a quick resume both count)."""
    npo_id = command.npo_id
    before = npo_configs.current(npo_id)
    await config_submitter.send_command(command)
    body: dict[str, Any] = {"npo_id": npo_id, "command_id": command.event_id, "status": "accepted"}
    if command.config is not None:
        body["warnings"] = config_warnings(command.config, call_caps)
    if before is not None and _changes_nothing(before, command):
        unchanged = {"status": "unchanged", "active": before.config.active}
        return view.json({**body, **unchanged, "version": before.version}, status=200)
    if request.query.get("wait") == "true":
        version = await _wait_for_version(npo_id, before.version if before else 0)
        if version is not None:
            return view.json({**body, "status": "applied", "version": version.version}, status=200)
        body["status"] = "accepted, not yet applied (rejected or slow: see dead letters)"
    return view.json(body, status=202)


@app.page("/admin/npos")
class NpoCollection(web.View):
    @admin_only
    @documented(
        query=[
            ("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIST_LIMIT}, "page size"),
            ("after", {"type": "string"}, "the npo_id the page starts after"),
        ]
    )
    async def get(self, request: web.Request) -> web.Response:
        """A page of NPOs in npo_id order: ``?limit=`` (1-1000, default 100) after ``?after=``;
        ``next`` is the ``after`` of the following page (``null`` on the last)."""
        try:
            limit = int(request.query.get("limit", str(LIST_LIMIT)))
        except ValueError:
            return self.json({"error": "limit: must be a whole number"}, status=400)
        if not 1 <= limit <= MAX_LIST_LIMIT:
            return self.json(
                {"error": f"limit: must be between 1 and {MAX_LIST_LIMIT}"}, status=400
            )
        rows = npo_configs.page(request.query.get("after") or None, limit + 1)
        npos = [
            npo_configs.ConfigSummary.model_validate_json(raw).public() for _, raw in rows[:limit]
        ]
        more = len(rows) > limit
        return self.json({"npos": npos, "next": npos[-1]["npo_id"] if more else None})

    @admin_only
    @documented(query=[WAIT], body=NpoIntegrationConfig)
    async def post(self, request: web.Request) -> web.Response:
        """Create; 409 when the NPO exists (use PUT to replace)."""
        try:
            config = await _parse_config(request)
            if npo_configs.current(config.npo_id) is not None:
                return self.json(
                    {"error": f"NPO {config.npo_id!r} exists; PUT to replace"}, status=409
                )
            command = config_submitter.upsert_command(config, change_source(request))
        except ConfigError as exc:
            return _refusal(self, exc)
        return await _accept(self, request, command)


@app.page("/admin/npos/{npo_id}")
class NpoResource(web.View):
    @admin_only
    async def get(self, request: web.Request, npo_id: str) -> web.Response:
        """The NPO's current config, its secrets shown as ``***``."""
        version = npo_configs.current(npo_id)
        if version is None:
            return unknown_npo(self, npo_id)
        return self.json(redacted(version))

    @admin_only
    @documented(query=[WAIT], body=NpoIntegrationConfig)
    async def put(self, request: web.Request, npo_id: str) -> web.Response:
        """Create or replace the whole config."""
        try:
            config = await _parse_config(request)
            if config.npo_id != npo_id:
                raise ConfigError(
                    f"npo_id: {config.npo_id!r} in the body does not match {npo_id!r} in the URL"
                )
            command = config_submitter.upsert_command(config, change_source(request))
        except ConfigError as exc:
            return _refusal(self, exc)
        return await _accept(self, request, command)


@app.page("/admin/npos/{npo_id}/versions")
class NpoVersions(web.View):
    @admin_only
    # Faust types a routed handler as (View, Request, *args, **kwargs): ours takes npo_id by name.
    @app.table_route(table=npo_configs.history_table, match_info="npo_id")  # type: ignore[arg-type]
    async def get(self, request: web.Request, npo_id: str) -> web.Response:
        """Every stored version of the NPO's config, with warnings."""
        versions = npo_configs.history(npo_id)
        if not versions:
            return unknown_npo(self, npo_id)
        return self.json({"npo_id": npo_id, "versions": [with_warnings(v) for v in versions]})


@app.page("/admin/npos/{npo_id}/deactivate")
class NpoDeactivation(web.View):
    @admin_only
    @documented(query=[WAIT])
    async def post(self, request: web.Request, npo_id: str) -> web.Response:
        """Deactivate the NPO: no more pulls or enrolments (its config is kept)."""
        if npo_configs.current(npo_id) is None:
            return unknown_npo(self, npo_id)
        return await _accept(self, request, deactivate_command(npo_id, change_source(request)))


@app.page("/admin/npos/{npo_id}/erase")
class NpoErasure(web.View):
    @admin_only
    @documented(query=[WAIT])
    async def post(self, request: web.Request, npo_id: str) -> web.Response:
        """Erase the NPO (it left the platform): inactive at once, its secrets dropped from its
        config and its earlier versions deleted; the state sweep deletes its state without the
        retention wait. Only a new config (PUT) brings it back. 200 ``unchanged`` when it is
        already erased."""
        if npo_configs.current(npo_id) is None:
            return unknown_npo(self, npo_id)
        return await _accept(self, request, erase_command(npo_id, change_source(request)))


@app.page("/admin/secrets/reseal")
class SecretsReseal(web.View):
    @admin_only
    async def post(self, request: web.Request) -> web.Response:
        """After putting a new key first in NPO_SECRETS_KEYS:
        re-encrypt every NPO's secrets with it.

        Once every NPO shows a ``reseal`` version, the old key can leave the ring
        (past versions sealed with it then stay unreadable; they are history).
        """
        npo_ids = sorted(npo_id for npo_id, _ in npo_configs.stored())
        await config_submitter.send_commands(
            [reseal_command(npo_id, change_source(request)) for npo_id in npo_ids]
        )
        return self.json({"resealing": npo_ids}, status=202)
