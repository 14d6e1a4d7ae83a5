"""The HTTP call of an enrol/unenrol: the endpoint from the NPO's
config, the values from its plug-in.

The config says where and how (method, path template, body format); the
plug-in says what (``EnrolmentRequest``: path variables, body, query). Path
variables are URL-quoted so a value cannot add path segments; a form body may
be flat with bracketed keys (``enrolments[0][userid]``) or nested, which is
flattened into the same bracket notation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from npo_integration.errors import FatalError
from npo_integration.expressions import MISSING, Path, parse_path, parse_template
from npo_integration.models.npo_config import EnrolmentEndpoint
from npo_integration.transforms.contract import EnrolmentRequest

_DOT_SEGMENTS = frozenset({".", ".."})


class EnrolmentCallError(FatalError):
    """The plug-in's request does not fit the endpoint: a path variable is missing or unusable."""


@dataclass(frozen=True, slots=True)
class HttpCall:
    """One request to send through the shared HTTP client (path relative to the NPO's base_url)."""

    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    json: Any = None
    form: list[tuple[str, str]] | None = None


def fill_path(template: str, values: Mapping[str, str]) -> str:
    """``template`` with each ``{name}`` replaced by ``values[name]``, URL-quoted (``/`` too).

    A name is looked up as written (``{offering.npo_ref}`` is the key
    ``"offering.npo_ref"``): path_vars are a flat mapping, not a record.
    """
    parsed = parse_template(template)
    missing = sorted({name for name in parsed.names if name not in values})
    if missing:
        raise EnrolmentCallError(f"endpoint path {template!r} needs path_vars {missing}")

    def value(placeholder: Path) -> str:
        text = str(values[placeholder.text])
        if not text or text in _DOT_SEGMENTS:
            raise EnrolmentCallError(
                f"path_vars.{placeholder.text} is {text!r}: not a usable path segment"
            )
        return quote(text, safe="")

    return parsed.render(value)


def form_fields(body: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Form fields in order; nested objects/lists become
    ``key[sub]``/``key[0]``; nulls are left out."""
    fields: list[tuple[str, str]] = []

    def add(key: str, value: Any) -> None:
        if value is None:
            return
        if isinstance(value, bool):
            fields.append((key, "true" if value else "false"))
        elif isinstance(value, str | int | float):
            fields.append((key, str(value)))
        elif isinstance(value, Mapping):
            for sub, item in value.items():
                add(f"{key}[{sub}]", item)
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                add(f"{key}[{index}]", item)
        else:
            raise EnrolmentCallError(f"form field {key!r}: cannot send a {type(value).__name__}")

    for key, value in body.items():
        add(str(key), value)
    return fields


def build_call(endpoint: EnrolmentEndpoint, request: EnrolmentRequest) -> HttpCall:
    """The call for ``request`` on ``endpoint``; a body is sent only as
    the endpoint's format says."""
    path = fill_path(endpoint.path, request.path_vars)
    params = dict(request.query)
    if endpoint.body_format == "json" and request.body is not None:
        return HttpCall(endpoint.method, path, params, json=request.body)
    if endpoint.body_format == "form" and request.body is not None:
        return HttpCall(endpoint.method, path, params, form=form_fields(request.body))
    return HttpCall(endpoint.method, path, params)


def ref_at(body: Any, path: str | None) -> str | None:
    """The NPO's enrolment id at ``path`` in a response body, as text;
    ``None`` if absent or not a scalar."""
    if path is None:
        return None
    value = parse_path(path).get(body)
    if value is MISSING or value is None or isinstance(value, bool | dict | list):
        return None
    text = str(value)
    return text or None
