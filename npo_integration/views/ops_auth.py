"""Who may use ``/ops``: a browser session signed with the admin token, or the token itself.

A browser cannot send ``Authorization: Bearer`` without JavaScript, so the operator types the
admin token once into the login form (``POST /ops/login``) and gets a session cookie:
``<issued-at>.<HMAC-SHA256(admin token, "ops-session:" issued-at)>``, ``HttpOnly``,
``SameSite=Strict``, ``Path=/ops``, ``Secure`` when the request came over HTTPS. It holds no
secret, is valid on every worker (they share the token) for ``SESSION_SECONDS``, and every session
ends when the token changes. Each form carries a CSRF token, the HMAC of the session under the
admin token, checked on every POST (``SameSite=Strict`` already keeps other sites' forms from
sending the cookie; the token does not rely on the browser for it). A request with the bearer
header (a script, the route walk) needs neither. See docs/security.md.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from http.cookies import CookieError, SimpleCookie

from faust import web

from npo_integration.views import admin_auth

COOKIE = "npo_ops_session"
SESSION_SECONDS = 8 * 3600


def _key() -> bytes | None:
    token = admin_auth.settings.admin_token  # read where the admin API reads it
    return None if token is None else token.get_secret_value().encode()


def _sign(key: bytes, purpose: str, value: str) -> str:
    return hmac.new(key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def enabled() -> bool:
    return _key() is not None


def token_matches(given: str) -> bool:
    key = _key()
    return key is not None and hmac.compare_digest(given.encode(), key)


def new_session(now: float | None = None) -> str:
    key = _key()
    assert key is not None, "no session without an admin token"
    issued = str(int(time.time() if now is None else now))
    return f"{issued}.{_sign(key, 'ops-session', issued)}"


def valid_session(value: str, now: float | None = None) -> bool:
    key = _key()
    issued, _, signature = value.partition(".")
    if key is None or not issued.isdigit():
        return False
    age = (time.time() if now is None else now) - int(issued)
    if not 0 <= age <= SESSION_SECONDS:
        return False
    return hmac.compare_digest(signature, _sign(key, "ops-session", issued))


def session_of(request: web.Request) -> str | None:
    """The request's valid session cookie, if it has one."""
    cookies: SimpleCookie = SimpleCookie()
    try:
        cookies.load(request.headers.get("Cookie", ""))
    except CookieError:
        return None
    morsel = cookies.get(COOKIE)
    return morsel.value if morsel is not None and valid_session(morsel.value) else None


def has_bearer(request: web.Request) -> bool:
    given = request.headers.get("Authorization", "")
    return given.startswith("Bearer ") and token_matches(given.removeprefix("Bearer "))


def csrf_token(session: str) -> str:
    key = _key()
    assert key is not None, "no CSRF token without an admin token"
    return _sign(key, "ops-csrf", session)


def csrf_ok(session: str, given: str) -> bool:
    return hmac.compare_digest(given.encode(), csrf_token(session).encode())


def message_signature(message: str) -> str:
    """Signs the outcome an action redirects with, so a crafted link cannot put words on the
    page (``?done=...`` shows only what this service wrote)."""
    key = _key()
    return "" if key is None else _sign(key, "ops-message", message)


def message_ok(message: str, signature: str) -> bool:
    return bool(signature) and hmac.compare_digest(signature, message_signature(message))


def cookie_header(request: web.Request, value: str, max_age: int = SESSION_SECONDS) -> str:
    secure = request.headers.get("X-Forwarded-Proto") == "https" or request.url.scheme == "https"
    flags = f"Max-Age={max_age}; Path=/ops; HttpOnly; SameSite=Strict"
    return f"{COOKIE}={value}; {flags}" + ("; Secure" if secure else "")
