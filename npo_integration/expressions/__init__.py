"""The one path language and the one template language of NPO configs and mappings.

Imports nothing else of the project, so models, transforms, the HTTP client and
the enrolment path can all use it without import cycles.
"""

from npo_integration.expressions.escapes import (
    QUOTES,
    Escape,
    EscapeError,
    QuoteKind,
    check_quoted_template,
    soql_literal,
    url_path_segment,
)
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
    "QUOTES",
    "Escape",
    "EscapeError",
    "Missing",
    "Path",
    "PathError",
    "PathOrRootText",
    "PathSyntaxError",
    "PathText",
    "QuoteKind",
    "Step",
    "Template",
    "TemplateSyntaxError",
    "TemplateText",
    "check_quoted_template",
    "format_steps",
    "kind_of",
    "parse_path",
    "parse_template",
    "soql_literal",
    "url_path_segment",
]
