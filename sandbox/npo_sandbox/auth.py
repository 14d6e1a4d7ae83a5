"""Per-NPO credentials and the check every NPO request passes before its handler.

Auth is configured per NPO independently of its flavour, so a test can pair
any API shape with any credential scheme the integration supports.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from typing import TYPE_CHECKING, Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    from .state import SimulatedNpo

AuthKind = Literal[
    "none",
    "bearer",
    "api_key_header",
    "api_key_query",
    "basic",
    "oauth2_client_credentials",
    "oauth2_authorization_code",
]

_REQUIRED: dict[str, tuple[str, ...]] = {
    "bearer": ("token",),
    "api_key_header": ("api_key",),
    "api_key_query": ("api_key",),
    "basic": ("username", "password"),
    "oauth2_client_credentials": ("client_id", "client_secret"),
    "oauth2_authorization_code": ("client_id", "client_secret"),
}


class AuthSettings(BaseModel):
    """How one NPO authenticates callers; only the fields of ``kind`` matter."""

    model_config = ConfigDict(extra="forbid")

    kind: AuthKind = "none"
    token: str | None = None
    api_key: str | None = None
    header_name: str = "X-API-Key"
    query_param: str = "wstoken"
    username: str | None = None
    password: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    token_ttl_seconds: float = Field(default=3600, ge=0)
    subscription_key: str | None = None
    """oauth2_authorization_code: also required in ``Bb-Api-Subscription-Key`` (SKY API)."""
    refresh_rotation: Literal["strict", "grace"] = "strict"
    """When a used refresh token dies (grants.py): at once, or when its successor is used."""
    refresh_delay_seconds: float = Field(default=0, ge=0, le=30)

    @model_validator(mode="after")
    def _has_credentials(self) -> AuthSettings:
        missing = [name for name in _REQUIRED.get(self.kind, ()) if not getattr(self, name)]
        if missing:
            raise ValueError(f"auth kind {self.kind!r} needs {', '.join(missing)}")
        return self

    def public(self) -> dict[str, Any]:
        """The settings without secret values, safe to return from the admin API."""
        shown: dict[str, Any] = {"kind": self.kind}
        if self.kind == "api_key_header":
            shown["header_name"] = self.header_name
        elif self.kind == "api_key_query":
            shown["query_param"] = self.query_param
        elif self.kind in ("oauth2_client_credentials", "oauth2_authorization_code"):
            shown["token_ttl_seconds"] = self.token_ttl_seconds
        if self.kind == "oauth2_authorization_code":
            shown["refresh_rotation"] = self.refresh_rotation
        return shown


SUBSCRIPTION_HEADER = "Bb-Api-Subscription-Key"


def same_secret(given: str | None, expected: str | None) -> bool:
    """Constant-time equality that never matches a missing value."""
    if given is None or expected is None:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def _bearer(request: web.Request) -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


async def _query_or_form(request: web.Request, name: str) -> str | None:
    """Moodle-style keys may come in the query string or a POSTed form."""
    if name in request.query:
        return request.query[name]
    if request.method == "POST" and request.content_type == "application/x-www-form-urlencoded":
        value = (await request.post()).get(name)
        return value if isinstance(value, str) else None
    return None


async def check(request: web.Request, npo: SimulatedNpo, now: float) -> str | None:
    """``None`` when the request carries this NPO's credentials, else why not."""
    settings = npo.auth
    kind = settings.kind
    if kind == "none":
        return None
    if kind == "bearer":
        return None if same_secret(_bearer(request), settings.token) else "invalid bearer token"
    if kind == "api_key_header":
        given = request.headers.get(settings.header_name)
        return None if same_secret(given, settings.api_key) else f"invalid {settings.header_name}"
    if kind == "api_key_query":
        given = await _query_or_form(request, settings.query_param)
        return None if same_secret(given, settings.api_key) else f"invalid {settings.query_param}"
    if kind == "basic":
        basic = decode_basic(request.headers.get("Authorization"))
        if basic is None:
            return "missing or malformed basic credentials"
        ok = same_secret(basic[0], settings.username)
        ok = same_secret(basic[1], settings.password) and ok
        return None if ok else "invalid username or password"
    if kind == "oauth2_authorization_code" and settings.subscription_key is not None:
        given = request.headers.get(SUBSCRIPTION_HEADER)
        if not same_secret(given, settings.subscription_key):
            return f"missing or invalid {SUBSCRIPTION_HEADER}"
    token = _bearer(request)
    expires_at = npo.tokens.get(token or "")
    if expires_at is None:
        return "unknown access token"
    if now >= expires_at:
        return "access token expired"
    if kind == "oauth2_authorization_code":
        from .grants import mark_access_used  # grants imports this module

        mark_access_used(npo, token or "")
    return None


def decode_basic(authorization: str | None) -> tuple[str, str] | None:
    """(user, password) from an ``Authorization: Basic`` header, or None."""
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon else None


def client_credentials(
    form: dict[str, str], authorization: str | None
) -> tuple[str | None, str | None]:
    """Client id and secret from HTTP Basic (RFC 6749 2.3.1) or else the form body."""
    basic = decode_basic(authorization)
    if basic is not None:
        return basic
    return form.get("client_id"), form.get("client_secret")


def issue_token(npo: SimulatedNpo, now: float) -> tuple[str, float]:
    """Mint an access token valid for the NPO's TTL; counts it, drops expired ones."""
    for stale in [token for token, expiry in npo.tokens.items() if expiry <= now]:
        del npo.tokens[stale]
    token = secrets.token_urlsafe(24)
    ttl = npo.auth.token_ttl_seconds
    npo.tokens[token] = now + ttl
    npo.tokens_issued += 1
    return token, ttl
