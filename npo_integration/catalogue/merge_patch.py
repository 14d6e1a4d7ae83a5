"""JSON Merge Patch (RFC 7396): how an NPO's ``overrides`` change a template's config.

RFC 7396 section 2 gives the whole algorithm in ten lines; it is written here rather than taken
from PyPI's ``json-merge-patch`` (its 0.3 line ships compiled builds for one function) or
``jsonmerge`` (schema-driven strategies, not RFC 7396's semantics). An object merges key by key,
``null`` removes a key, anything else (a list included) replaces the value.
"""

from __future__ import annotations

from typing import Any


def merge_patch(target: Any, patch: Any) -> Any:
    """``target`` with ``patch`` applied (RFC 7396 MergePatch); neither argument is changed."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = merge_patch(result.get(name), value)
    return result
