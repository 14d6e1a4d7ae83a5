"""The one HTTP client every NPO call goes through.

Per attempt: circuit check → rate limit → sign → send (timeout) → on 401 refresh
the credentials and resend once → classify → record the outcome on the
circuit. Retriable failures are retried with backoff unless the caller asked
otherwise or the request may already have taken effect.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from functools import cached_property, partial
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver
from multidict import CIMultiDict
from prometheus_client import Histogram
from yarl import URL

from npo_integration import metrics
from npo_integration.errors import NpoIntegrationError, RetriableError
from npo_integration.http.auth import (
    AnyAuthenticator,
    AuthContext,
    OutgoingRequest,
    build_authenticator,
)
from npo_integration.http.auth.base import GrantBroker
from npo_integration.http.circuit import CircuitState
from npo_integration.http.classify import classify
from npo_integration.http.errors import CircuitOpenError, NpoRequestError, NpoResponseError
from npo_integration.http.npo_state import UNCAPPED, CallCaps, Endpoint, NpoState, NpoStates
from npo_integration.http.resolver import GuardedResolver, check_literal_host
from npo_integration.http.response import NpoResponse
from npo_integration.http.transport import DEFAULT_MAX_BODY_BYTES, send
from npo_integration.http.urls import join_base, require_same_origin, same_origin, without_params
from npo_integration.log_context import log_context
from npo_integration.models.npo_config import SourceOrConfig, one_source
from npo_integration.sealing import SecretBox
from npo_integration.tracing import HEADER, current_traceparent

logger = logging.getLogger(__name__)

Form = Mapping[str, str] | list[tuple[str, str]]
MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_FOLLOWABLE_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True)
class _Call:
    method: str
    url: str
    params: list[tuple[str, str]]
    headers: CIMultiDict[str]
    json: Any = None
    form: Any = None

    @cached_property
    def public_url(self) -> str:
        """The URL with its (non-secret) params, as logs, errors and the response name it: built
        once per call (each page's request has params; yarl's building is not free)."""
        return str(URL(self.url).extend_query(self.params)) if self.params else self.url


@dataclass(frozen=True, slots=True)
class SentRequest:
    """One request as it went out, for a caller that shows what was sent (the preview).

    ``url`` is public (no auth query parameter); ``headers`` are as signed, so they hold the
    credential: redact them before showing them anywhere. ``status`` is ``None`` when no answer
    came (``error`` says why)."""

    method: str
    url: str
    headers: Mapping[str, str]
    status: int | None
    seconds: float
    error: str | None = None


Observer = Callable[[SentRequest], None]


class NpoHttpClient:
    """One shared ``aiohttp.ClientSession`` for all NPOs, with per-NPO auth, rate limit and circuit.

    ``allow_private`` lets NPO hosts resolve to private/loopback addresses
    (tests, the demo); in production it stays off and the connector's resolver
    refuses them at connect time. ``clock``, ``sleep`` and ``random_fraction``
    are injectable so tests need no real waiting; ``resolver`` replaces the
    system resolver underneath the address guard.
    ``caps`` clamp each NPO config's timeout, retries and breaker threshold
    (the worker's ``NPO_HTTP_MAX_*`` settings). ``observer`` is told of every request sent,
    token requests and each redirect hop included (a preview shows them; the worker has none).
    """

    def __init__(
        self,
        box: SecretBox,
        *,
        allow_private: bool,
        user_agent: str = "spotlight-npo-integration",
        pool_limit: int = 100,
        pool_limit_per_host: int = 10,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        random_fraction: Callable[[], float] = random.random,
        resolver: AbstractResolver | None = None,
        caps: CallCaps = UNCAPPED,
        observer: Observer | None = None,
    ) -> None:
        self._box = box
        self.grants: GrantBroker | None = None
        """Where authorization-code authenticators get their tokens (set by the worker)."""
        self._observer = observer
        self._allow_private = allow_private
        self._user_agent = user_agent
        self._pool_limit = pool_limit
        self._pool_limit_per_host = pool_limit_per_host
        self._max_body_bytes = max_body_bytes
        self._clock = clock
        self._resolver = resolver
        self._session: aiohttp.ClientSession | None = None
        self._guard: GuardedResolver | None = None
        self._states = NpoStates(
            make_auth=self._make_auth,
            clock=clock,
            sleep=sleep,
            random_fraction=random_fraction,
            caps=caps,
        )

    # --- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        """Open the shared session (idempotent). A request opens it too, as the worker's producer
        and output log open at first use: Faust starts the worker's services only once its tables
        are recovered, and an agent may run a message before that (a pull after a restart did)."""
        self._opened()

    def _opened(self) -> aiohttp.ClientSession:
        if self._session is not None:
            return self._session
        self._guard = GuardedResolver(allow_private=self._allow_private, inner=self._resolver)
        connector = aiohttp.TCPConnector(
            limit=self._pool_limit,
            limit_per_host=self._pool_limit_per_host,
            resolver=self._guard,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),  # stateless API calls; no cookie crosses NPOs
            trust_env=False,  # a proxy would connect on our behalf, past the address guard
        )
        return self._session

    async def close(self) -> None:
        """Close the session and its connections (idempotent)."""
        session, self._session = self._session, None
        guard, self._guard = self._guard, None
        if session is not None:
            await session.close()
        if guard is not None:
            await guard.close()

    async def __aenter__(self) -> NpoHttpClient:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def circuit_state(self, state_key: str) -> CircuitState | None:
        """For health views: a source's circuit state (``NpoSource.state_key``), ``None`` if it
        was not called yet."""
        state = self._states.peek(state_key)
        return state.breaker.state if state else None

    def circuit_counts(self) -> dict[str, int]:
        """How many sources' circuits are closed, open or half-open (a metrics gauge)."""
        counts = {"closed": 0, "open": 0, "half_open": 0}
        for state in self._states.all():
            counts[state.breaker.state] += 1
        return counts

    # --- requests --------------------------------------------------------------

    async def request(
        self,
        given: SourceOrConfig,
        method: str,
        url_or_path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        form: Form | None = None,
        headers: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        retry: bool = True,
    ) -> NpoResponse:
        """Call the NPO; raise a classified error (see :mod:`npo_integration.http.errors`).

        With ``retry=False`` a retriable error is raised at once. A request
        whose outcome is unknown (a POST that timed out) is retried only when
        ``idempotency_key`` is given, since the NPO may already have acted.
        """
        if json is not None and form is not None:
            raise ValueError("pass either json or form, not both")
        config = one_source(given)
        npo = self._states.get(config)
        url = join_base(config.base_url, url_or_path)
        if (
            url is url_or_path
        ):  # absolute (a next link, say): a path joined to base_url cannot leave its host
            require_same_origin(url, config.base_url)
        call = _Call(
            method=method.upper(),
            url=without_params(url, npo.auth.secret_params),
            params=[(str(k), str(v)) for k, v in (params or {}).items()],
            headers=self._headers(npo.endpoint, headers, idempotency_key),
            json=json,
            form=list(form.items()) if isinstance(form, Mapping) else form,
        )
        attempt = partial(self._attempt, npo, call)
        with log_context(npo_id=config.npo_id):  # on the lines of every try and retry below
            if not retry:
                return await attempt()

            def should_retry(exc: RetriableError) -> bool:
                if isinstance(exc, CircuitOpenError):
                    return False  # fail fast; the caller reschedules
                return not (getattr(exc, "outcome_unknown", False) and idempotency_key is None)

            label = f"npo={config.state_key} {call.method} {call.public_url}"
            return await npo.retry.run(attempt, should_retry=should_retry, label=label)

    def authenticator(self, config: SourceOrConfig) -> AnyAuthenticator:
        """The NPO's authenticator: which params carry secrets and how to scrub them from text
        (the pull walker redacts next-page URLs and error bodies with them)."""
        return self._states.get(config).auth

    # --- internals -------------------------------------------------------------

    def _headers(
        self,
        endpoint: Endpoint,
        extra: Mapping[str, str] | None,
        idempotency_key: str | None,
    ) -> CIMultiDict[str]:
        headers: CIMultiDict[str] = CIMultiDict(
            {"User-Agent": self._user_agent, "Accept": "application/json"}
        )
        headers.update(endpoint.headers)
        headers.update(extra or {})
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        span = current_traceparent()
        if span is not None:  # the NPO may continue the trace (W3C trace context)
            headers[HEADER] = str(span)
        return headers

    def _make_auth(self, endpoint: Endpoint) -> AnyAuthenticator:
        context = AuthContext(
            box=self._box,
            base_url=endpoint.base_url,
            post_form=partial(self._post_form, endpoint),
            clock=self._clock,
            state_key=endpoint.npo_id,
            grants=self.grants,
        )
        return build_authenticator(endpoint.auth, context)

    async def _attempt(self, npo: NpoState, call: _Call) -> NpoResponse:
        """One try: circuit → rate limit → exchange → classify → circuit outcome."""
        breaker = npo.breaker
        probe = breaker.before_call()
        outcome: bool | None = None  # True: the NPO answered; False: a retriable failure
        try:
            await npo.limiter.acquire()
            started = time.perf_counter()
            try:
                response = await self._exchange(npo, call)
            except Exception:
                _observe(call.method, "error", started)
                raise
            _observe(call.method, f"{response.status // 100}xx", started)
            logger.debug(
                "npo=%s %s %s -> %d in %.0f ms",
                npo.endpoint.npo_id,
                call.method,
                response.url,
                response.status,
                (time.perf_counter() - started) * 1000,
            )
            error = classify(
                response,
                method=call.method,
                error_in_body=npo.endpoint.error_in_body,
                scrub=npo.auth.scrub,
            )
            if error is not None:
                raise error
            outcome = True
            return response
        except RetriableError:
            outcome = False
            raise
        except (NpoRequestError, NpoResponseError):
            outcome = True  # the NPO is up; it just did not like this request
            raise
        finally:
            if outcome is True:
                breaker.record_success()
            elif outcome is False:
                breaker.record_failure(probe=probe)
            else:
                breaker.release(probe=probe)

    async def _exchange(self, npo: NpoState, call: _Call) -> NpoResponse:
        """Send, following at most :data:`MAX_REDIRECTS` redirects of a GET/HEAD to base_url's
        host and port."""
        hops = 0
        while True:
            response = await self._signed_send(npo, call)
            location = response.headers.get("Location")
            if response.status not in _REDIRECTS or not location:
                return response
            hops += 1
            if hops > MAX_REDIRECTS:
                raise NpoRequestError(
                    f"{call.method} {response.url}: more than {MAX_REDIRECTS} redirects",
                    status=response.status,
                )
            target = without_params(str(URL(call.url).join(URL(location))), npo.auth.secret_params)
            if not same_origin(target, npo.endpoint.base_url):
                raise NpoRequestError(
                    f"{call.method} {response.url} -> HTTP {response.status}: redirect to "
                    f"another host or port not followed: {URL(target).with_query(None)}",
                    status=response.status,
                )
            if call.method not in _FOLLOWABLE_METHODS:
                raise NpoRequestError(
                    f"{call.method} {response.url} -> HTTP {response.status}: redirect of a "
                    f"{call.method} not followed (would re-send the body): "
                    f"{URL(target).with_query(None)}",
                    status=response.status,
                )
            call = replace(call, url=target, params=[])

    async def _signed_send(self, npo: NpoState, call: _Call) -> NpoResponse:
        """Sign and send; after a 401 let the authenticator refresh and resend once."""
        response, signed = await self._send_once(npo, call)
        if response.status == 401 and await npo.auth.refresh(signed):
            await npo.limiter.acquire()
            response, _ = await self._send_once(npo, call)
        return response

    async def _send_once(self, npo: NpoState, call: _Call) -> tuple[NpoResponse, OutgoingRequest]:
        check_literal_host(call.url, allow_private=self._allow_private)
        request = OutgoingRequest(
            call.method, call.url, CIMultiDict(call.headers), list(call.params)
        )
        await npo.auth.apply(request)
        response = await self._send(
            request,
            public_url=call.public_url,
            timeout=npo.endpoint.timeout_seconds,
            json=call.json,
            form=call.form,
        )
        return response, request

    async def _send(
        self,
        request: OutgoingRequest,
        *,
        public_url: str,
        timeout: float,
        json: Any = None,
        form: Any = None,
    ) -> NpoResponse:
        """One exchange on the shared session, told to the observer (if any) once it ended."""
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        try:
            response = await send(
                self._opened(),
                request,
                public_url=public_url,
                timeout=timeout,
                json=json,
                form=form,
                max_body_bytes=self._max_body_bytes,
            )
            status = response.status
            return response
        except NpoIntegrationError as exc:
            error = str(exc)  # transport messages name the public URL only
            raise
        finally:
            if self._observer is not None:
                self._observer(
                    SentRequest(
                        method=request.method,
                        url=public_url,
                        headers=dict(request.headers),
                        status=status,
                        seconds=time.perf_counter() - started,
                        error=error,
                    )
                )

    async def _post_form(
        self,
        endpoint: Endpoint,
        url: str,
        form: list[tuple[str, str]],
        *,
        basic: tuple[str, str] | None = None,
    ) -> NpoResponse:
        """An unauthenticated form POST (OAuth2 token endpoint, which may live on another host);
        ``basic``: the client's id and secret as HTTP Basic."""
        check_literal_host(url, allow_private=self._allow_private)
        headers = self._headers(endpoint, None, None)
        secrets = [value for key, value in form if any(s in key for s in _FORM_SECRETS)]
        if basic is not None:
            pair = base64.b64encode(f"{basic[0]}:{basic[1]}".encode()).decode()
            headers["Authorization"] = f"Basic {pair}"
            secrets += [basic[1], pair]
        request = OutgoingRequest("POST", url, headers, [])
        response = await self._send(
            request, public_url=url, timeout=endpoint.timeout_seconds, form=form
        )

        def scrub(text: str) -> str:
            for value in secrets:
                text = text.replace(value, "***") if len(value) >= 4 else text
            return text

        error = classify(response, method="POST", error_in_body=None, scrub=scrub)
        if error is not None:
            raise error
        return response


_FORM_SECRETS = ("secret", "password", "token", "code")
"""Form fields whose values are scrubbed from token endpoints' error bodies."""


def _observe(method: str, status: str, started: float) -> None:
    """One try's latency, for ``npo_http_request_seconds``."""
    _latency(method, status).observe(time.perf_counter() - started)


@functools.cache
def _latency(method: str, status: str) -> Histogram:
    """The histogram child of a method and status: ``labels`` looks it up under a lock each time
    (a per-request cost in the profile of a sweep); a few methods and statuses in all."""
    return metrics.npo_http_seconds.labels(method, status)


__all__ = ["Form", "NpoHttpClient", "Observer", "SentRequest"]
