"""Building and vetting the URLs sent to an NPO."""

from __future__ import annotations

from collections.abc import Collection

from yarl import URL

from npo_integration.http.errors import UnsafeUrlError


def join_base(base_url: str, url_or_path: str) -> str:
    """An absolute URL as is; a path appended to ``base_url`` (``/x`` and ``x`` alike).

    Configs say "relative to base_url", so ``https://h/api`` + ``/courses`` is
    ``https://h/api/courses``, not RFC 3986's ``https://h/courses``.
    """
    if "//" in url_or_path and URL(url_or_path).is_absolute():
        return url_or_path
    if not url_or_path:
        return base_url
    return base_url.rstrip("/") + "/" + url_or_path.lstrip("/")


def same_origin(url: str, base_url: str) -> bool:
    """Same host and port (another port is another service), and no downgrade from https to http.

    Ports are compared as used: ``https://h`` and ``https://h:443`` are the same origin,
    ``http://h`` (80) and ``https://h`` (443) are not.
    """
    target, base = URL(url), URL(base_url)
    if (target.host or "").lower() != (base.host or "").lower() or target.port != base.port:
        return False
    return not (base.scheme == "https" and target.scheme != "https")


def require_same_origin(url: str, base_url: str) -> None:
    """NPO credentials are only ever sent to the NPO's own host and port."""
    if not same_origin(url, base_url):
        raise UnsafeUrlError(
            f"refusing to send NPO credentials to {URL(url).with_query(None)}: "
            f"not the host and port of base_url {base_url}"
        )


def without_params(url: str, names: Collection[str]) -> str:
    """``url`` minus the query parameters ``names`` (auth keys an NPO echoed into a next link)."""
    if not names:
        return url
    parsed = URL(url)
    if not any(name in parsed.query for name in names):
        return url
    kept = [(key, value) for key, value in parsed.query.items() if key not in names]
    return str(parsed.with_query(kept))
