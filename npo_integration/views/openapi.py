"""``GET /admin/openapi.json``: the admin API described as OpenAPI 3.1, built from the routes.

Paths, methods and path parameters come from the web server's router (a view added later is in
the document without anyone copying it here); query parameters and request bodies from what each
view method declares with :func:`documented`, bodies as the JSON schema of their pydantic models;
summaries from the methods' docstrings. The document lets a client (and schemathesis, in the tests)
call every admin route; a unit test keeps its paths equal to the router's admin routes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from faust import web
from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import models_json_schema

from npo_integration.app import app
from npo_integration.models.events import NpoId
from npo_integration.views.admin_auth import admin_only

F = TypeVar("F", bound=Callable[..., Any])
ADMIN_PREFIX = "/admin/"
_PLACEHOLDER = re.compile(r"\{(\w+)(?::[^}]*)?\}")
_METHODS = ("get", "post", "put", "patch", "delete")
_PATH_PARAMETERS: dict[str, dict[str, Any]] = {"npo_id": TypeAdapter(NpoId).json_schema()}
"""Path parameters with a known type; any other is a string."""
WAIT = (
    "wait",
    {"type": "string", "enum": ["true"]},
    "answer once applied on this worker (a change that changes nothing answers 200 unchanged"
    " at once, with or without it)",
)


@dataclass(frozen=True)
class Operation:
    """What a view method takes besides its path: query parameters and a JSON body."""

    query: Sequence[tuple[str, dict[str, Any], str]] = ()
    """``(name, JSON schema, description)`` of each query parameter."""
    body: type[BaseModel] | None = None
    body_required: bool = True


def documented(
    *,
    query: Sequence[tuple[str, dict[str, Any], str]] = (),
    body: type[BaseModel] | None = None,
    body_required: bool = True,
) -> Callable[[F], F]:
    """Declare a view method's query parameters and body for the OpenAPI document (put it under
    ``@admin_only``, whose ``wraps`` carries the declaration outward)."""

    def mark(handler: F) -> F:
        handler.__dict__["openapi"] = Operation(query, body, body_required)
        return handler

    return mark


def _summary(handler: Any, view: web.View) -> str:
    """The docstring's first paragraph, on one line."""
    doc = (getattr(handler, "__doc__", None) or type(view).__doc__ or "").strip()
    return " ".join(doc.split("\n\n")[0].split())


def _operation(template: str, method: str, view: web.View) -> dict[str, Any]:
    handler = view.methods[method]
    declared: Operation = getattr(handler, "openapi", None) or Operation()
    parameters: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": _PATH_PARAMETERS.get(name, {"type": "string", "minLength": 1}),
        }
        for name in _PLACEHOLDER.findall(template)
    ]
    parameters += [
        {"name": name, "in": "query", "required": False, "schema": schema, "description": text}
        for name, schema, text in declared.query
    ]
    operation: dict[str, Any] = {
        "operationId": f"{method}_{type(view).__name__}",
        "summary": _summary(handler, view),
        "parameters": parameters,
        "responses": {
            "default": {
                "description": 'JSON; an error is {"error": "..."} with a 4xx status',
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
            "401": {"description": "missing or wrong admin token"},
        },
    }
    if declared.body is not None:
        name = declared.body.__name__
        operation["requestBody"] = {
            "required": declared.body_required,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
        }
    return operation


def openapi_document(
    routes: Sequence[tuple[str, str]], views: Mapping[str, web.View]
) -> dict[str, Any]:
    """The document of the admin routes among ``routes`` (``(method, path template)``, as the
    router has them; HEAD is left out: it is GET without a body), ``views`` by template."""
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {}
    bodies: dict[str, type[BaseModel]] = {}
    for method, template in routes:
        method = method.lower()
        if not template.startswith(ADMIN_PREFIX) or method not in _METHODS:
            continue
        view = views[template]
        paths.setdefault(template, {})[method] = _operation(template, method, view)
        declared = getattr(view.methods[method], "openapi", None)
        if declared is not None and declared.body is not None:
            bodies[declared.body.__name__] = declared.body
    if bodies:
        _, definitions = models_json_schema(
            [(model, "validation") for model in bodies.values()],
            ref_template="#/components/schemas/{model}",
        )
        schemas = dict(definitions.get("$defs", {}))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "npo-integration admin API",
            "version": "1",
            "description": "Every route needs Authorization: Bearer <NPO_ADMIN_TOKEN>; "
            "see docs/security.md.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


def served_document() -> dict[str, Any]:
    """The document of this worker's web server, as its router has it now."""
    router = app.web.web_app.router
    routes = [
        (route.method, route.resource.canonical)
        for route in router.routes()
        if route.resource is not None
    ]
    return openapi_document(routes, app.web.views)


@app.page("/admin/openapi.json")
class OpenApiDocument(web.View):
    @admin_only
    async def get(self, request: web.Request) -> web.Response:
        """This document: the admin API's paths, parameters and request bodies."""
        return self.json(served_document())
