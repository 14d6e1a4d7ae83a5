"""What every admin view answers alike: an unknown NPO, and whether the CLI or the API asked."""

from __future__ import annotations

from typing import Literal

from faust import web


def unknown_npo(view: web.View, npo_id: str) -> web.Response:
    """404 naming the NPO: no config was ever stored for it."""
    return view.json({"error": f"unknown npo_id {npo_id!r}"}, status=404)


def change_source(request: web.Request) -> Literal["cli", "admin-api"]:
    """The CLI calls the admin API too and says so, so changes show where they came from."""
    return "cli" if request.headers.get("X-Change-Source") == "cli" else "admin-api"
