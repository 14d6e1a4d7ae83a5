"""The connector catalogue: versioned config templates of the systems NPOs run, shipped with the
service (``templates/NAME@VERSION.json``), and the one function that resolves an NPO's short
template input into a full config (:func:`resolve_template`)."""

from __future__ import annotations

from npo_integration.catalogue.resolve import TemplateInput, resolve_config_input, resolve_template
from npo_integration.catalogue.templates import (
    CatalogueTemplate,
    TemplateParam,
    catalogue,
    find_template,
)

__all__ = [
    "CatalogueTemplate",
    "TemplateInput",
    "TemplateParam",
    "catalogue",
    "find_template",
    "resolve_config_input",
    "resolve_template",
]
