"""The transport every NPO call goes through: one client, its auth, and its resilience.

``NpoHttpClient.request`` makes one call (rate limit, circuit breaker, auth, retries, SSRF guard)
and raises an error classified by how the caller must react (:mod:`npo_integration.http.errors`).
Which calls to make is the caller's business: the pull path walks pages with
:func:`npo_integration.pull.walker.stream_pages`, the push path sends enrolments.
"""

from npo_integration.http.client import NpoHttpClient
from npo_integration.http.response import NpoResponse

__all__ = ["NpoHttpClient", "NpoResponse"]
