"""Keys for values the sandbox stashes on a request while handling it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web


def _key(name: str, kind: type) -> Any:
    """``web.RequestKey`` on aiohttp versions that have it, else the plain name."""
    factory = getattr(web, "RequestKey", None)
    return factory(name, kind) if factory is not None else name


ABORTED = _key("sandbox.aborted", bool)
"""Set when a fault dropped the connection instead of answering."""

TOUCHED_ENROLMENTS = _key("sandbox.enrolments", list)
"""Enrolment records that answered this request, for the idempotency store."""

MOODLE_PARAMS = _key("sandbox.moodle_params", Mapping)
"""Moodle's merged query+form params, parsed once per request."""

CIVICRM_PARAMS = _key("sandbox.civicrm_params", dict)
"""CiviCRM APIv4's ``params`` (a JSON string in the query or form body), decoded once."""
