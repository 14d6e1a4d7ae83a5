"""The routes the worker's web server serves, read from its aiohttp router, never a hand-kept list.

The worker builds its router from the modules imported here (``npo_integration.app``
and every view it registers), so a view added anywhere is walked by the route tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aiohttp import web

PUBLIC_PATHS = frozenset({"/health", "/metrics"})
"""The only routes that answer without the admin token."""

OPS_PREFIX = "/ops"
"""The operations page: HTML behind the admin token or a session made from it (views/ops.py);
without either it answers 401 with the login form."""

FAUST_BUILT_IN_PATHS = (
    "/",
    "/router/",
    "/router/topics",
    "/stats/",
    "/assignment/",
    "/graph/",
    "/performance/",
)
"""Where Faust mounts its own views (``faust.web.apps``); ``/table/...`` is walked per table."""

_PLACEHOLDER = re.compile(r"\{(\w+)(?::[^}]*)?\}")


@dataclass(frozen=True)
class Route:
    """One method of one path the server answers."""

    method: str
    template: str
    """As the router has it: ``/admin/npos/{npo_id}``."""
    route: web.AbstractRoute

    @property
    def public(self) -> bool:
        return self.template in PUBLIC_PATHS

    @property
    def ops(self) -> bool:
        return self.template == OPS_PREFIX or self.template.startswith(OPS_PREFIX + "/")

    def path(self, value: str) -> str:
        """The template with every placeholder set to ``value``."""
        return _PLACEHOLDER.sub(value, self.template)

    def match_info(self, value: str) -> dict[str, str]:
        return {name: value for name in _PLACEHOLDER.findall(self.template)}

    def __str__(self) -> str:
        return f"{self.method} {self.template}"


def served_routes(app: web.Application) -> list[Route]:
    """Every (method, path template) the aiohttp application answers, in registration order."""
    return [
        Route(route.method, route.resource.canonical, route)
        for route in app.router.routes()
        if route.resource is not None
    ]


def worker_routes() -> list[Route]:
    """The routes of the worker's web server, built here exactly as the worker builds them."""
    from npo_integration.app import app

    app.web.init_server()  # what the worker does before serving (applies blueprints, if any)
    return served_routes(app.web.web_app)


def head_without_get(route: Route, routes: list[Route]) -> bool:
    """Faust registers HEAD for every view and runs GET for it: on a view without GET it
    answers 405 to anyone, serving nothing."""
    return route.method == "HEAD" and not any(
        r.template == route.template and r.method == "GET" for r in routes
    )
