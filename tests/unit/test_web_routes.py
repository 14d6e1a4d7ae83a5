"""Nothing is served without the admin token but ``/health`` and ``/metrics``.

The routes are read from the worker's aiohttp router and each is called in
process, as the server would call it; the same walk runs against a real worker
in tests/integration/test_web_routes.py.
"""

from __future__ import annotations

import json
import secrets

import faust
import pytest
from aiohttp.test_utils import make_mocked_request
from aiohttp.web import Response
from pydantic import SecretStr

from npo_integration.app import NpoApp, settings
from npo_integration.views import admin_auth
from tests.web_routes import Route, head_without_get, worker_routes

TOKEN = secrets.token_urlsafe(32)
ROUTES = worker_routes()
FAUST_WEB_FLAGS = {
    "debug": True,
    "web_stats_enabled": True,
    "web_graph_enabled": True,
    "web_router_enabled": True,
    "web_tables_enabled": True,
    "web_metrics_enabled": True,
}


@pytest.fixture
def admin_token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(
        admin_auth, "settings", settings.model_copy(update={"admin_token": SecretStr(TOKEN)})
    )
    return TOKEN


async def call(route: Route, headers: dict[str, str]) -> Response:
    request = make_mocked_request(
        route.method,
        route.path("walk-npo"),
        headers=headers,
        match_info=route.match_info("walk-npo"),
    )
    response = await route.route.handler(request)
    assert isinstance(response, Response)
    return response


def test_faust_built_in_views_are_not_mounted_whatever_its_settings_say() -> None:
    plain = faust.App("probe-plain", autodiscover=False, **FAUST_WEB_FLAGS)
    plain.web.init_server()
    assert any("/table" in r.resource.canonical for r in plain.web.web_app.router.routes())  # type: ignore[attr-defined]

    ours = NpoApp("probe-ours", autodiscover=False, **FAUST_WEB_FLAGS)
    ours.web.init_server()
    assert list(ours.web.web_app.router.routes()) == []


def test_every_route_is_public_or_admin() -> None:
    assert {r.template for r in ROUTES if r.public} == {"/health", "/metrics"}
    assert [
        r.template
        for r in ROUTES
        if not r.public and not r.ops and not r.template.startswith("/admin/")
    ] == []


@pytest.mark.parametrize("route", [r for r in ROUTES if not r.public], ids=str)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": "Bearer "},
        {"Authorization": TOKEN},
    ],
    ids=["none", "wrong", "empty", "not-bearer"],
)
async def test_without_the_token_an_admin_route_answers_401(
    admin_token: str, route: Route, headers: dict[str, str]
) -> None:
    response = await call(route, headers)
    if head_without_get(route, ROUTES):
        assert response.status == 405
        return
    assert response.status == 401
    if route.ops:  # the login form, for a browser
        assert 'action="/ops/login"' in response.text
        return
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert json.loads(response.body) == {"error": "missing or wrong admin token"}  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "route", [r for r in ROUTES if not r.public and r.method != "HEAD"], ids=str
)
async def test_without_a_configured_token_the_admin_api_is_disabled(
    monkeypatch: pytest.MonkeyPatch, route: Route
) -> None:
    monkeypatch.setattr(admin_auth, "settings", settings.model_copy(update={"admin_token": None}))
    response = await call(route, {"Authorization": "Bearer "})
    assert response.status == 503
    if route.ops:
        assert "NPO_ADMIN_TOKEN is not set" in response.text
        return
    assert json.loads(response.body) == {  # type: ignore[arg-type]
        "error": "admin API disabled: NPO_ADMIN_TOKEN is not set"
    }


@pytest.mark.parametrize("route", [r for r in ROUTES if r.public], ids=str)
async def test_health_and_metrics_answer_without_a_token(route: Route) -> None:
    response = await call(route, {})
    assert response.status in (200, 503)  # /health is 503 until the worker holds partitions
