"""Admin API of the registry: create, replace, deactivate and read NPO configs (secrets redacted).

Writes go through the same command path as the CLI and the npo-assessed topic;
``?wait=true`` answers once the new version is in this worker's table.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from faust import web
from pydantic import ValidationError

from npo_integration.app import app
from npo_integration.errors import ConfigError
from npo_integration.models.codec import describe_validation_error
from npo_integration.models.internal import ConfigCommand
from npo_integration.models.npo_config import ConfigSource, NpoConfigVersion, NpoIntegrationConfig
from npo_integration.registry.submit import deactivate_command, reseal_command, send_command, upsert_command
from npo_integration.tables import npo_configs
from npo_integration.views.admin_auth import admin_only

WAIT_SECONDS = 10.0


def redacted(version: NpoConfigVersion) -> dict[str, Any]:
    return version.model_dump(mode="json", context={"redact": True})


def summary(version: NpoConfigVersion) -> dict[str, Any]:
    return {
        "npo_id": version.npo_id,
        "display_name": version.config.display_name,
        "active": version.config.active,
        "version": version.version,
        "updated_at": version.updated_at.isoformat(),
        "source": version.source,
    }


class InvalidJsonError(ConfigError):
    """The request body is not JSON (400, where a well-formed but invalid config is 422)."""


def _refusal(view: web.View, exc: ConfigError) -> web.Response:
    return view.json({"error": str(exc)}, status=400 if isinstance(exc, InvalidJsonError) else 422)


def _source(request: web.Request) -> ConfigSource:
    """The CLI calls this API too and says so, so versions show where a change came from."""
    return "cli" if request.headers.get("X-Change-Source") == "cli" else "admin-api"


async def _parse_config(request: web.Request) -> NpoIntegrationConfig:
    try:
        document = json.loads(await request.text())
    except json.JSONDecodeError as exc:
        raise InvalidJsonError(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    try:
        return NpoIntegrationConfig.model_validate(document)
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


async def _accept(view: web.View, request: web.Request, command: ConfigCommand) -> web.Response:
    npo_id = command.npo_id
    before = npo_configs.current(npo_id)
    await send_command(command)
    body: dict[str, Any] = {"npo_id": npo_id, "command_id": command.event_id, "status": "accepted"}
    if request.query.get("wait") == "true":
        version = await _wait_for_version(npo_id, before.version if before else 0)
        if version is not None:
            return view.json({**body, "status": "applied", "version": version.version}, status=200)
        body["status"] = "accepted, not yet applied (unchanged, rejected or slow: see dead letters)"
    return view.json(body, status=202)


@app.page("/admin/npos")
class NpoCollection(web.View):
    @admin_only
    async def get(self, request: web.Request) -> web.Response:
        return self.json({"npos": [summary(v) for v in sorted(npo_configs.all_current(), key=lambda v: v.npo_id)]})

    @admin_only
    async def post(self, request: web.Request) -> web.Response:
        """Create; 409 when the NPO exists (use PUT to replace)."""
        try:
            config = await _parse_config(request)
            if npo_configs.current(config.npo_id) is not None:
                return self.json({"error": f"NPO {config.npo_id!r} exists; PUT to replace"}, status=409)
            command = upsert_command(config, _source(request))
        except ConfigError as exc:
            return _refusal(self, exc)
        return await _accept(self, request, command)


@app.page("/admin/npos/{npo_id}")
class NpoResource(web.View):
    @admin_only
    async def get(self, request: web.Request, npo_id: str) -> web.Response:
        version = npo_configs.current(npo_id)
        if version is None:
            return self.json({"error": f"unknown npo_id {npo_id!r}"}, status=404)
        return self.json(redacted(version))

    @admin_only
    async def put(self, request: web.Request, npo_id: str) -> web.Response:
        """Create or replace the whole config."""
        try:
            config = await _parse_config(request)
            if config.npo_id != npo_id:
                raise ConfigError(f"npo_id: {config.npo_id!r} in the body does not match {npo_id!r} in the URL")
            command = upsert_command(config, _source(request))
        except ConfigError as exc:
            return _refusal(self, exc)
        return await _accept(self, request, command)


@app.page("/admin/npos/{npo_id}/versions")
class NpoVersions(web.View):
    @admin_only
    async def get(self, request: web.Request, npo_id: str) -> web.Response:
        versions = npo_configs.history(npo_id)
        if not versions:
            return self.json({"error": f"unknown npo_id {npo_id!r}"}, status=404)
        return self.json({"npo_id": npo_id, "versions": [redacted(v) for v in versions]})


@app.page("/admin/npos/{npo_id}/deactivate")
class NpoDeactivation(web.View):
    @admin_only
    async def post(self, request: web.Request, npo_id: str) -> web.Response:
        if npo_configs.current(npo_id) is None:
            return self.json({"error": f"unknown npo_id {npo_id!r}"}, status=404)
        return await _accept(self, request, deactivate_command(npo_id, _source(request)))


@app.page("/admin/secrets/reseal")
class SecretsReseal(web.View):
    @admin_only
    async def post(self, request: web.Request) -> web.Response:
        """After putting a new key first in NPO_SECRETS_KEYS: re-encrypt every NPO's secrets with it.

        Once every NPO shows a ``reseal`` version, the old key can leave the ring
        (past versions sealed with it then stay unreadable; they are history).
        """
        npo_ids = sorted(v.npo_id for v in npo_configs.all_current())
        for npo_id in npo_ids:
            await send_command(reseal_command(npo_id, _source(request)))
        return self.json({"resealing": npo_ids}, status=202)
