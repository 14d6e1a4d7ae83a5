"""The one path language and the one template language of NPO configs and mappings.

Imports nothing else of the project, so models, transforms, the HTTP client and
the enrolment path can all use it without import cycles.
"""

from npo_integration.expressions.fields import PathOrRootText, PathText, TemplateText
from npo_integration.expressions.missing import MISSING, Missing
from npo_integration.expressions.paths import (
    Path,
    PathError,
    PathSyntaxError,
    Step,
    format_steps,
    kind_of,
    parse_path,
)
from npo_integration.expressions.templates import Template, TemplateSyntaxError, parse_template

__all__ = [
    "MISSING",
    "Missing",
    "Path",
    "PathError",
    "PathOrRootText",
    "PathSyntaxError",
    "PathText",
    "Step",
    "Template",
    "TemplateSyntaxError",
    "TemplateText",
    "format_steps",
    "kind_of",
    "parse_path",
    "parse_template",
]
