"""Resolving a template input (``{"npo_id", "template": "moodle@1", "base_url", "auth",
"params", "overrides"}``) into the full config dict the registry validates and stores.

A pure function of its input and the shipped catalogue: no I/O, no clock, so the admin API, the
config file, the CLI and the platform's npo-assessed messages all resolve an input the same way.
Placeholders are filled by the config template language (:mod:`npo_integration.expressions`);
a string that is one placeholder alone takes the value as it is (a number stays a number).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from npo_integration.catalogue.merge_patch import merge_patch
from npo_integration.catalogue.templates import CatalogueTemplate, TemplateError, find_template
from npo_integration.expressions import parse_template
from npo_integration.expressions.missing import Missing
from npo_integration.expressions.paths import Path
from npo_integration.expressions.templates import TemplateSyntaxError
from npo_integration.validation_errors import describe_validation_error

PROTECTED = ("npo_id", "template")
"""Fields an override may not change: who the config is for, and what it was resolved from."""


class TemplateInput(BaseModel):
    """What an NPO on a catalogued system gives: who it is, where its API is, its credentials,
    the template's parameters and what it does differently (a JSON merge patch, RFC 7396, on
    the resolved config)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    npo_id: str = Field(min_length=1)
    template: str = Field(min_length=1, description="NAME@VERSION, or NAME for its latest version")
    base_url: str | None = Field(None, min_length=1, description="the template's, if it has one")
    display_name: str | None = None
    active: bool | None = None
    auth: dict[str, Any] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    overrides: dict[str, Any] = Field(default_factory=dict)


def _parameters(template: CatalogueTemplate, given: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(given) - set(template.params))
    if unknown:
        known = ", ".join(template.params) or "none"
        raise TemplateError(
            f"params.{unknown[0]}: {template.ref} has no such parameter (it has: {known})"
        )
    values: dict[str, Any] = {}
    for name, param in template.params.items():
        value = given.get(name)
        if value is None and param.required:
            raise TemplateError(f"params.{name}: {template.ref} needs it ({param.description})")
        try:
            values[name] = param.coerce(param.default if value is None else value)
        except ValueError as exc:
            raise TemplateError(f"params.{name}: {exc}, got {value!r}") from None
    return values


def _auth(template: CatalogueTemplate, given: Mapping[str, Any]) -> dict[str, Any]:
    """The NPO's auth laid over the template's; another ``kind`` replaces it whole."""
    if given.get("kind", template.auth.get("kind")) != template.auth.get("kind"):
        return dict(given)
    auth = {**template.auth, **given}
    for field in template.auth_needs:
        if auth.get(field) in (None, ""):
            raise TemplateError(f"auth.{field}: {template.ref} needs the NPO's {field}")
    return auth


def _fill(value: Any, context: Mapping[str, Any], ref: str) -> Any:
    if isinstance(value, dict):  # a key may hold a placeholder too (SOQL field names)
        return {_text(key, context, ref): _fill(item, context, ref) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill(item, context, ref) for item in value]
    if not isinstance(value, str):
        return value
    try:
        text = parse_template(value)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"catalogue template {ref}: {exc}") from None

    def value_of(path: Path) -> Any:
        found = path.get(context)
        if isinstance(found, Missing) or found is None:
            raise TemplateError(f"catalogue template {ref}: {{{path.text}}} names no value")
        return found

    if len(text.parts) == 1 and isinstance(text.parts[0], Path):
        return value_of(text.parts[0])  # the value itself: a number stays a number
    return text.render(
        lambda path: found if isinstance(found := value_of(path), str) else json.dumps(found)
    )


def _text(key: str, context: Mapping[str, Any], ref: str) -> str:
    filled = _fill(key, context, ref)
    return filled if isinstance(filled, str) else json.dumps(filled)


def resolve_template(data: Mapping[str, Any]) -> dict[str, Any]:
    """The full config dict of a template input, with the template and version it resolved to
    (``template: {"name", "version"}``); :class:`TemplateError` (a ``ConfigError``, one line)
    for an unknown template or version, a missing base URL (where the template has none), a
    missing or unknown parameter, missing credentials or an override of ``npo_id`` or
    ``template``."""
    try:
        given = TemplateInput.model_validate(data)
    except ValidationError as exc:
        raise TemplateError(describe_validation_error(exc)) from None
    template = find_template(given.template)
    base_url = given.base_url or template.base_url
    if base_url is None:
        raise TemplateError(f"base_url: {template.ref} needs the NPO's base_url")
    context = {
        "npo_id": given.npo_id,
        "base_url": base_url.rstrip("/"),
        "params": _parameters(template, given.params),
    }
    config: dict[str, Any] = _fill(template.config, context, template.ref)
    config["npo_id"] = given.npo_id
    config["base_url"] = context["base_url"]
    config["auth"] = _auth(template, given.auth)
    if given.display_name is not None:
        config["display_name"] = given.display_name
    if given.active is not None:
        config["active"] = given.active
    touched = sorted(set(PROTECTED) & set(given.overrides))
    if touched:
        raise TemplateError(f"overrides.{touched[0]}: may not be overridden")
    resolved: dict[str, Any] = merge_patch(config, given.overrides)
    resolved["template"] = {"name": template.name, "version": template.version}
    return resolved


def resolve_config_input(document: Any) -> Any:
    """A config document as the registry reads it: a template input (``template`` is a
    ``"NAME@VERSION"`` string) resolved, anything else (a full config, or one already resolved,
    whose ``template`` is its provenance object) as it is. The one call every entry point makes
    before validating a config."""
    if isinstance(document, dict) and isinstance(document.get("template"), str):
        return resolve_template(document)
    return document
