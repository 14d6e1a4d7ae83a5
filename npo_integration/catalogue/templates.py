"""The catalogue's templates: one JSON file per system and version, read once and checked.

A template is a complete NPO config (one-system shape, so that streams are keyed by name and an
override can reach any field with a JSON merge patch) whose strings may hold ``{npo_id}``,
``{base_url}`` and ``{params.NAME}``; a literal brace, such as a mapping's own ``{id}``
placeholder, is written ``{{id}}`` (the template language of :mod:`npo_integration.expressions`).
A new version is a new file: a stored config keeps the version it resolved to.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from npo_integration.errors import ConfigError
from npo_integration.validation_errors import describe_validation_error

TEMPLATE_NAME = r"[a-z][a-z0-9_-]{0,39}"
_FILE = re.compile(rf"^(?P<name>{TEMPLATE_NAME})@(?P<version>[1-9][0-9]*)\.json$")


class TemplateError(ConfigError):
    """A template input names no template or version, lacks a parameter, or its override does
    not fit (one line, naming what is wrong)."""


class TemplateParam(BaseModel):
    """One parameter of a template: what it means, and its default (none: the NPO must give it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = Field(min_length=1)
    type: Literal["string", "integer", "boolean"] = Field(
        "string", description="what the value is where it goes: a number given as text is read"
    )
    default: Any = None
    required: bool = False

    def coerce(self, value: Any) -> str | int | bool:
        """``value`` as this parameter's type, or ``ValueError`` saying what was expected."""
        if self.type == "boolean" and isinstance(value, bool):
            return value
        number = isinstance(value, int) and not isinstance(value, bool)
        if self.type == "integer" and (number or (isinstance(value, str) and value.isdigit())):
            return int(value)
        if self.type == "string" and (number or isinstance(value, str)):
            return str(value)
        raise ValueError(f"must be a{'n' if self.type == 'integer' else ''} {self.type}")


class CatalogueTemplate(BaseModel):
    """One version of one system's template."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=rf"^{TEMPLATE_NAME}$")
    version: int = Field(ge=1)
    system: str = Field(min_length=1, description="the system and API it is written for")
    description: str = Field(min_length=1)
    docs: list[str] = Field(min_length=1, description="the public API documentation it follows")
    base_url: str | None = Field(
        None,
        description="the API's one address, for a hosted system every NPO shares (SKY API): "
        "an NPO then need not give its base_url, and may give another",
    )
    auth: dict[str, Any] = Field(
        description="the auth the system takes, without its secret: the NPO's auth is laid over it"
    )
    auth_needs: list[str] = Field(
        default_factory=list, description="the fields of auth an NPO must give (its credentials)"
    )
    params: dict[str, TemplateParam] = Field(default_factory=dict)
    config: dict[str, Any] = Field(description="the config, with placeholders")

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def needs(self) -> list[str]:
        """What an NPO must give: ``base_url`` (unless the template has one), its credentials and
        the required parameters."""
        own_url = [] if self.base_url else ["base_url"]
        needs = ["npo_id", *own_url, *(f"auth.{field}" for field in self.auth_needs)]
        return needs + [f"params.{n}" for n, p in self.params.items() if p.required]


def _read(file_name: str, text: str) -> CatalogueTemplate:
    try:
        template = CatalogueTemplate.model_validate(json.loads(text))
    except json.JSONDecodeError as exc:
        raise TemplateError(f"catalogue template {file_name}: invalid JSON: {exc.msg}") from None
    except ValidationError as exc:
        raise TemplateError(
            f"catalogue template {file_name}: {describe_validation_error(exc)}"
        ) from None
    if file_name != f"{template.ref}.json":
        raise TemplateError(f"catalogue template {file_name}: declares {template.ref}")
    return template


@cache
def catalogue() -> dict[str, dict[int, CatalogueTemplate]]:
    """Every shipped template: name -> version -> template (read once per process)."""
    found: dict[str, dict[int, CatalogueTemplate]] = {}
    folder = resources.files(__package__).joinpath("templates")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if _FILE.match(entry.name):
            template = _read(entry.name, entry.read_text(encoding="utf-8"))
            found.setdefault(template.name, {})[template.version] = template
    return {name: dict(sorted(versions.items())) for name, versions in sorted(found.items())}


def find_template(ref: str) -> CatalogueTemplate:
    """The template ``NAME@VERSION`` (or ``NAME``: its latest version); :class:`TemplateError`
    names the known ones otherwise."""
    name, at, version_text = ref.partition("@")
    versions = catalogue().get(name)
    if versions is None:
        known = ", ".join(catalogue()) or "none"
        raise TemplateError(f"template: unknown template {name!r} (known: {known})")
    if not at:
        return versions[max(versions)]
    version = int(version_text) if version_text.isdigit() else None
    if version is None or version not in versions:
        known = ", ".join(f"{name}@{v}" for v in versions)
        raise TemplateError(f"template: {name!r} has no version {version_text!r} (known: {known})")
    return versions[version]
