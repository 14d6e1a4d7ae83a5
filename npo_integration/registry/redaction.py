"""Scrubbing secrets out of an NPO document that failed validation, before it
is dead-lettered or logged."""

from __future__ import annotations

from typing import Any

from npo_integration.models.npo_config import SECRET_FIELDS
from npo_integration.models.secret import REDACTED

SECRET_KEYS = frozenset(name for names in SECRET_FIELDS.values() for name in names) | {
    "secret",
    "api_key",
}


def redact_document(document: Any) -> Any:
    """A copy of ``document`` with every value under a secret-looking key replaced, at any depth."""
    if isinstance(document, dict):
        return {
            k: REDACTED if k in SECRET_KEYS else redact_document(v) for k, v in document.items()
        }
    if isinstance(document, list):
        return [redact_document(item) for item in document]
    return document
