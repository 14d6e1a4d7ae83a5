"""``POST /admin/npos/preview``: a dry run of a config before it is registered
(:mod:`npo_integration.registry.preview`). Nothing is stored, published or changed."""

from __future__ import annotations

from typing import TypeVar

from faust import web
from pydantic import BaseModel, ValidationError

from npo_integration.app import app, settings
from npo_integration.catalogue import resolve_config_input
from npo_integration.errors import ConfigError
from npo_integration.json_input import JsonInputError
from npo_integration.models.npo_config import NpoIntegrationConfig
from npo_integration.registry.preview import Previewer, PreviewRequest
from npo_integration.validation_errors import describe_validation_error
from npo_integration.views.admin_answers import json_body
from npo_integration.views.admin_auth import admin_only
from npo_integration.views.openapi import documented
from npo_integration.worker_resources import (
    call_caps,
    config_submitter,
    plugin_registry,
    plugin_runner,
    secret_box,
)

R = TypeVar("R", bound=BaseModel)

previewer = Previewer(
    submitter=config_submitter,
    box=secret_box,
    plugin_registry=plugin_registry,
    plugin_runner=plugin_runner,
    allow_private=settings.allow_private_npo_urls,
    caps=call_caps,
    transform_timeout=settings.transform_timeout_seconds,
)


def parse_with_config(document: object, model: type[R]) -> R:
    """A request carrying a config, the config checked as the registry checks one (errors name
    the config's fields as written, ``streams.offerings.path``, as a create would);
    ``ConfigError`` if not."""
    if not isinstance(document, dict) or "config" not in document:
        raise ConfigError('the body must be an object with "config" (the NPO config)')
    try:
        config = NpoIntegrationConfig.model_validate(resolve_config_input(document["config"]))
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None
    try:
        return model.model_validate({**document, "config": config})
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None


@app.page("/admin/npos/preview")
class NpoPreview(web.View):
    @admin_only
    @documented(body=PreviewRequest)
    async def post(self, request: web.Request) -> web.Response:
        """Dry run: call the NPO for the config as given (not stored) and show the requests
        (secrets redacted), the raw records, the transform's result for each, and the enrol
        request for a sample assignment (not sent)."""
        try:
            document = await json_body(request)
        except JsonInputError as exc:
            return self.json({"error": str(exc)}, status=400)
        try:
            answer = await previewer.preview(parse_with_config(document, PreviewRequest))
        except ConfigError as exc:
            return self.json({"error": str(exc)}, status=422)
        return self.json(answer.model_dump(mode="json"))
