"""The one place where a config as it arrives becomes the canonical config (the sources shape).

``NpoIntegrationConfig`` reads only its canonical shape (``sources``), so a stored config decodes
on pydantic's fused JSON path: a shape migration inside the model (a wrap or before validator)
makes pydantic turn every config's JSON into Python objects first, which made every decode about
1.6x dearer. Every entry point where another shape can still arrive calls this module instead:

- platform messages on ``spotlight.npo-assessed`` (``agents.npo_assessed``);
- admin API bodies (``views.npos``, ``views.preview``) and the CLI and ``NPO_CONFIG_FILE``
  (``registry.config_file``);
- values written by older code: stored versions (``npo-configs``, ``npo-config-versions``, read by
  ``tables.npo_configs``) and config commands (``agents.config_commands``). Those are decoded with
  :func:`decode_with_config`, which takes the fast path when the bytes are already canonical.

Shapes read today, in this order: a catalogue template input (``{"template": "moodle@1", ...}``,
resolved by ``catalogue.resolve_config_input`` into a full config), one system written at the
top level (a config written before sources, what platforms still send, and what templates
resolve to), read as the source ``main``, and the canonical one. Another shape plugs in at
:func:`needs_canonical` and :func:`canonical_config`: every entry point above then reads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import pydantic_core
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails, InitErrorDetails

from npo_integration.catalogue import resolve_config_input
from npo_integration.errors import ConfigError
from npo_integration.models.codec import DecodeError, UnknownVersionError, decode
from npo_integration.models.npo_config import (
    LEGACY_SOURCE,
    LEGACY_SOURCE_FIELDS,
    LEGACY_STREAM_KINDS,
    NpoConfigVersion,
    NpoIntegrationConfig,
)
from npo_integration.validation_errors import describe_validation_error, dotted

M = TypeVar("M", bound=BaseModel)
Location = tuple[str | int, ...]

_CANONICAL_MARK = b'"sources"'
"""Bytes every canonical config holds: without them a stored value is not canonical (decode it
through :func:`canonical_config`); with them it usually is (tried on the fast path first)."""


def needs_canonical(data: Mapping[str, Any]) -> bool:
    """Whether ``data`` is written in another shape than the canonical one: a template input
    (``template`` names one), or a one-system field at the top level."""
    return isinstance(data.get("template"), str) or any(
        name in data for name in LEGACY_SOURCE_FIELDS
    )


def canonical_config(data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` (a config as it arrived, not yet validated) in the canonical shape, as a new dict.

    A one-system config becomes one source named ``main``; its ``streams`` object
    (``{"offerings": {...}, "assignments": {...}}``) becomes a list of named streams of kinds
    offerings and progress, in order, so their keys (``offerings``, ``assignments``) and every
    key derived from them stay byte-identical. A template input is resolved first (what it
    resolves to is read the same way). A canonical config comes back as a copy.
    ``ValueError`` when it mixes both shapes; ``ConfigError`` for a template that does not
    resolve."""
    data = resolve_config_input(data)
    legacy = [name for name in LEGACY_SOURCE_FIELDS if name in data]
    if not legacy:
        return dict(data)
    if "sources" in data:
        raise ValueError(
            f"a config has either sources or the one-system fields ({', '.join(legacy)}), not both"
        )
    source: dict[str, Any] = {"name": LEGACY_SOURCE}
    source.update({key: data[key] for key in legacy})
    streams = data.get("streams")
    if isinstance(streams, Mapping):
        source["streams"] = [
            {"name": name, "kind": LEGACY_STREAM_KINDS.get(name, name), **stream}
            if isinstance(stream, Mapping)
            else stream
            for name, stream in _present(streams)
        ]
    rest = {key: value for key, value in data.items() if key not in LEGACY_SOURCE_FIELDS}
    return {**rest, "sources": [source]}


def _present(streams: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """A one-system config's streams as written, a ``null`` one left out (not configured)."""
    return [(name, stream) for name, stream in streams.items() if stream is not None]


def read_config(data: Any) -> NpoIntegrationConfig:
    """A config from an entry point (an admin body, a file, the CLI) in any shape it is accepted
    in; ``ValidationError`` naming the fields as written (``streams.offerings.path``),
    ``ConfigError`` for a template input that does not resolve."""
    return read_model(NpoIntegrationConfig, data, ())


def read_model(model_type: type[M], data: Any, at: Location) -> M:
    """``model_type`` from ``data`` whose config, at ``at`` (``("integration",)``; ``()``: ``data``
    is the config), may be in any accepted shape; errors name the fields as written."""
    try:
        document, written = _canonical_at(data, at)
    except ValueError as exc:  # both shapes at once
        error: InitErrorDetails = {
            "type": "value_error",
            "loc": at,
            "input": data,
            "ctx": {"error": exc},
        }
        raise ValidationError.from_exception_data(model_type.__name__, [error]) from None
    try:
        return model_type.model_validate(document)
    except ValidationError as exc:
        if written is None:
            raise
        errors = [_as_written(error, at, written) for error in exc.errors()]
        raise ValidationError.from_exception_data(exc.title, errors) from None


def decode_with_config(
    model_type: type[M], raw: bytes | None, *, at: Location, max_bytes: int | None = None
) -> M:
    """``codec.decode`` for a message or stored value holding a config at ``at``, written by any
    version of the service or platform. Canonical bytes (what this service writes) take pydantic's
    JSON path alone; others are parsed, made canonical and validated (``DecodeError`` as
    ``codec.decode`` raises it)."""
    if raw is None or (max_bytes is not None and len(raw) > max_bytes):
        return decode(model_type, raw, max_bytes=max_bytes)
    if _CANONICAL_MARK in raw:
        try:  # codec: a newer release's added fields tolerated, its versions refused
            return decode(model_type, raw)
        except UnknownVersionError:
            raise
        except DecodeError:
            pass  # invalid, or a one-system config that says "sources" somewhere: read below
    try:
        data = pydantic_core.from_json(raw)
    except ValueError:
        return decode(model_type, raw)  # not JSON: says so as every decode does
    try:
        return read_model(model_type, data, at)
    except ValidationError as exc:
        raise DecodeError(f"{model_type.__name__}: {describe_validation_error(exc)}") from None
    except ConfigError as exc:  # a template input that does not resolve
        raise DecodeError(f"{model_type.__name__}: {dotted(at)}: {exc}") from None


def decode_config_version(raw: bytes | None) -> NpoConfigVersion:
    """A stored version (``npo-configs``, ``npo-config-versions``): what this service writes
    decodes on the fast path; a value written before sources is read as source ``main``."""
    return decode_with_config(NpoConfigVersion, raw, at=("config",))


def _canonical_at(data: Any, at: Location) -> tuple[Any, Mapping[str, Any] | None]:
    """``data`` with its config at ``at`` canonical, and the config as written when it was not
    (``None``: nothing changed, ``data`` is returned as is)."""
    if not at:
        if isinstance(data, Mapping) and needs_canonical(data):
            written = resolve_config_input(data)  # errors name a template's fields as resolved
            return canonical_config(written), written
        return data, None
    head, rest = at[0], at[1:]
    if isinstance(head, str) and isinstance(data, Mapping) and head in data:
        inner, written = _canonical_at(data[head], rest)
        return ({**data, head: inner}, written) if written is not None else (data, None)
    if isinstance(head, int) and isinstance(data, list) and 0 <= head < len(data):
        inner, written = _canonical_at(data[head], rest)
        if written is None:
            return data, None
        copy = list(data)
        copy[head] = inner
        return copy, written
    return data, None


def _as_written(error: ErrorDetails, at: Location, written: Mapping[str, Any]) -> InitErrorDetails:
    """An error of a config made canonical, located as in the config as written: ``sources.0.X``
    is ``X``, and ``sources.0.streams.1`` is the stream's name (``streams.assignments``)."""
    loc = error["loc"]
    depth = len(at)
    if loc[:depth] == at and loc[depth : depth + 2] == ("sources", 0):
        inner = loc[depth + 2 :]
        streams = written.get("streams")
        if inner[:1] == ("streams",) and len(inner) > 1 and isinstance(inner[1], int):
            names = [name for name, _ in _present(streams)] if isinstance(streams, Mapping) else []
            if inner[1] < len(names):
                inner = ("streams", names[inner[1]], *inner[2:])
        loc = (*at, *inner)
    details: InitErrorDetails = {"type": error["type"], "loc": loc, "input": error["input"]}
    if "ctx" in error:
        details["ctx"] = error["ctx"]
    return details
