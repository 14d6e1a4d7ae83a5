"""The admin API's OpenAPI document describes exactly the admin routes the web server has."""

from __future__ import annotations

import json
import secrets

import pytest
from aiohttp.test_utils import make_mocked_request
from aiohttp.web import Response
from pydantic import SecretStr

from npo_integration.app import settings
from npo_integration.views import admin_auth
from npo_integration.views.openapi import served_document
from tests.web_routes import worker_routes

ROUTES = worker_routes()


def test_the_document_has_every_admin_route_and_method_and_nothing_else() -> None:
    document = served_document()
    documented = {(m.upper(), path) for path, ops in document["paths"].items() for m in ops}
    served = {
        (r.method, r.template)
        for r in ROUTES
        if r.template.startswith("/admin/") and r.method != "HEAD"
    }
    assert documented == served
    assert ("GET", "/admin/openapi.json") in documented


def test_parameters_and_bodies_come_from_the_views() -> None:
    paths = served_document()["paths"]
    for path, operations in paths.items():
        for operation in operations.values():
            in_path = [p["name"] for p in operation["parameters"] if p["in"] == "path"]
            assert in_path == [n.strip("{}") for n in path.split("/") if n.startswith("{")]
    create = paths["/admin/npos"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/NpoIntegrationConfig"
    }
    assert [p["name"] for p in paths["/admin/npos"]["get"]["parameters"]] == ["limit", "after"]
    confirm = paths["/admin/npos/{npo_id}/enrolments/{assignment_id}/confirm"]["post"]
    assert confirm["requestBody"]["required"] is False
    schemas = served_document()["components"]["schemas"]
    assert {"NpoIntegrationConfig", "OperatorConfirm"} <= set(schemas)
    shapes = schemas["NpoIntegrationConfig"]["anyOf"]  # with sources, or one system
    assert all("display_name" in shape["properties"] for shape in shapes)
    assert "sources" in shapes[0]["properties"] and "base_url" in shapes[1]["properties"]


@pytest.mark.parametrize("token", [None, "wrong"])
async def test_the_document_is_served_only_with_the_admin_token(
    monkeypatch: pytest.MonkeyPatch, token: str | None
) -> None:
    expected = secrets.token_urlsafe(32)
    monkeypatch.setattr(
        admin_auth, "settings", settings.model_copy(update={"admin_token": SecretStr(expected)})
    )
    (route,) = [r for r in ROUTES if r.template == "/admin/openapi.json" and r.method == "GET"]
    for given, status in [(token, 401), (expected, 200)]:
        headers = {"Authorization": f"Bearer {given}"} if given else {}
        response = await route.route.handler(
            make_mocked_request("GET", "/admin/openapi.json", headers=headers)
        )
        assert isinstance(response, Response)
        assert response.status == status
    assert json.loads(response.body)["openapi"] == "3.1.0"  # type: ignore[arg-type]
