"""Admin API: pause and resume an NPO, keeping its stored config and secrets.

A pause is the state a deactivation makes (``active`` false: no pulls, no enrolments); resume is
their inverse, with the config and sealed secrets as stored, so nobody sends the secrets again.
Both are commands like every other config change (``registry.versioning``).
"""

from __future__ import annotations

from collections.abc import Callable

from faust import web

from npo_integration.app import app
from npo_integration.models.internal import ConfigCommand
from npo_integration.models.npo_config import ConfigSource
from npo_integration.registry.submit import pause_command, resume_command
from npo_integration.registry.versioning import ErasedNpoError
from npo_integration.tables import npo_configs
from npo_integration.views.admin_answers import change_source, unknown_npo
from npo_integration.views.admin_auth import admin_only
from npo_integration.views.npos import _accept
from npo_integration.views.openapi import WAIT, documented


async def _set_active(
    view: web.View,
    request: web.Request,
    npo_id: str,
    make: Callable[[str, ConfigSource], ConfigCommand],
) -> web.Response:
    """Send the command (``_accept``: 200 ``unchanged`` when the NPO is in that state already).
    An id that is no registered NPO (nor a valid id) is a 404 before any command is made of it;
    resuming an erased NPO is a 409."""
    current = npo_configs.current(npo_id)
    if current is None:
        return unknown_npo(view, npo_id)
    command = make(npo_id, change_source(request))
    if current.change == "erase" and command.event_type == "npo_config.resume":
        return view.json({"error": str(ErasedNpoError(npo_id))}, status=409)
    return await _accept(view, request, command)


@app.page("/admin/npos/{npo_id}/pause")
class NpoPause(web.View):
    @admin_only
    @documented(query=[WAIT])
    async def post(self, request: web.Request, npo_id: str) -> web.Response:
        """Pause the NPO: no more pulls or enrolments until it is resumed (its config is kept)."""
        return await _set_active(self, request, npo_id, pause_command)


@app.page("/admin/npos/{npo_id}/resume")
class NpoResume(web.View):
    @admin_only
    @documented(query=[WAIT])
    async def post(self, request: web.Request, npo_id: str) -> web.Response:
        """Resume a paused or deactivated NPO with its stored config and secrets; 409 for an
        erased NPO (it has none: PUT a config to register it again)."""
        return await _set_active(self, request, npo_id, resume_command)
