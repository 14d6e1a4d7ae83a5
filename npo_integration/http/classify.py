"""Turning an NPO's answer into an error, or not: the status first, then an error inside a 200."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from npo_integration.errors import NpoIntegrationError
from npo_integration.expressions import MISSING, parse_path
from npo_integration.http.errors import NpoResponseError, error_for_status, truncate
from npo_integration.http.response import NpoResponse
from npo_integration.models.npo_config import ErrorInBodyConfig

Scrub = Callable[[str], str]
_REASON_KEYS = ("message", "error_message", "error_description", "error", "detail", "title")


def reason_text(response: NpoResponse) -> str:
    """The NPO's own words: a JSON ``message``-like field when there is one (also Salesforce's
    ``[{"message": ...}]``, CiviCRM's ``{"error_message"}``, Canvas's
    ``{"errors": [{"message"}]}``), else the body text."""
    body: Any = response.json if response.is_json else None
    if isinstance(body, dict) and isinstance(body.get("errors"), list) and body["errors"]:
        body = body["errors"]
    if isinstance(body, list) and body and isinstance(body[0], dict):
        body = body[0]
    if isinstance(body, dict):
        for key in _REASON_KEYS:
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
    return response.text


def body_error(
    response: NpoResponse, config: ErrorInBodyConfig, *, method: str, scrub: Scrub
) -> NpoResponseError | None:
    """Moodle answers errors with HTTP 200: ``{"exception", "errorcode", "message"}``."""
    if not response.is_json:
        return None
    body = response.json
    marker = parse_path(config.path).get(body)
    if marker is MISSING or marker is None or marker is False:
        return None
    code = parse_path(config.code_path).get(body) if config.code_path else MISSING
    message = parse_path(config.message_path).get(body) if config.message_path else MISSING
    code_text = None if code is MISSING or code is None else truncate(scrub(str(code)), 80)
    detail = scrub(str(message)) if message not in (MISSING, None) else scrub(str(marker))
    prefix = f"[{code_text}] " if code_text else ""
    return NpoResponseError(
        f"{method} {response.url} -> HTTP {response.status} with an error in the body: "
        f"{prefix}{truncate(detail)}",
        status=response.status,
        code=code_text,
    )


def classify(
    response: NpoResponse, *, method: str, error_in_body: ErrorInBodyConfig | None, scrub: Scrub
) -> NpoIntegrationError | None:
    """The error this answer means, or ``None`` when it is a usable success.

    Secrets are scrubbed only on the error path, so a success costs no decryption.
    """
    if 200 <= response.status < 300:
        if error_in_body is None:
            return None
        return body_error(response, error_in_body, method=method, scrub=scrub)
    return error_for_status(
        response.status,
        method=method,
        url=response.url,
        reason=scrub(reason_text(response)),
        retry_after=response.headers.get("Retry-After"),
        body=scrub(response.text) if 400 <= response.status < 500 else "",
    )


def require_json(response: NpoResponse, *, method: str, scrub: Scrub) -> Any:
    """The JSON body, or an error quoting the start of what came instead."""
    if response.is_json:
        return response.json
    kind = response.headers.get("Content-Type", "no content type")
    why = f", {response.json_error}" if response.json_error else ""
    sample = truncate(scrub(response.text), 120) or "(empty)"
    raise NpoResponseError(
        f"{method} {response.url} -> HTTP {response.status}: "
        f"body is not JSON ({kind}{why}): {sample}",
        status=response.status,
    )
