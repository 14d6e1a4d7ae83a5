"""Bearer-token check for the admin API: 503 when disabled (no token), 401 on a wrong one.

Every route but ``/health`` and ``/metrics`` is an admin view behind this check
(the route-walk test enforces it); see docs/security.md.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, TypeVar

from faust import web

from npo_integration.app import settings as settings  # read by ops_auth too (one place)

V = TypeVar("V", bound=web.View)
Handler = Callable[..., Awaitable[web.Response]]


def admin_only(handler: Handler) -> Handler:
    """Wrap a view method so it runs only with ``Authorization: Bearer <NPO_ADMIN_TOKEN>``."""

    @wraps(handler)
    async def checked(view: web.View, request: web.Request, **kwargs: Any) -> web.Response:
        if settings.admin_token is None:
            return view.json(
                {"error": "admin API disabled: NPO_ADMIN_TOKEN is not set"}, status=503
            )
        expected = f"Bearer {settings.admin_token.get_secret_value()}"
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return view.json(
                {"error": "missing or wrong admin token"},
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="npo-integration-admin"'},
            )
        return await handler(view, request, **kwargs)

    return checked
