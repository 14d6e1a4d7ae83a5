"""The per-source parts of the client (authenticator, rate limiter, circuit breaker, retry policy).

Each part is rebuilt only when its own settings change, so editing a stream
does not drop a cached OAuth token or reset an open circuit. A state keeps the
``Endpoint`` part of the NPO's config, not the config: with 100,000 NPOs on a
worker, their mappings (about 30 KB each, decoded) must not stay in memory.

The worker's :class:`CallCaps` clamp what a config may ask for (call timeout,
tries and waits of one call, failures before the circuit opens), so one NPO's
config cannot hold a worker's slots for minutes. A config above a cap is still
accepted: clamping happens here, where the state is built, with a warning.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

from npo_integration.http.auth import AnyAuthenticator
from npo_integration.http.circuit import CircuitBreaker
from npo_integration.http.ratelimit import TokenBucket
from npo_integration.http.retry import Retrier
from npo_integration.models.npo_config import (
    AuthConfig,
    CircuitBreakerConfig,
    ErrorInBodyConfig,
    NpoSource,
    RateLimitConfig,
    RetryConfig,
    SourceOrConfig,
    one_source,
)

log = logging.getLogger(__name__)

Shared = TypeVar("Shared", RateLimitConfig, CircuitBreakerConfig, RetryConfig)


@lru_cache(maxsize=256)
def _shared(settings: Shared) -> Shared:
    """The first-seen instance equal to ``settings`` (frozen, so equal is interchangeable): most
    NPOs keep the defaults, and a state is kept for every NPO a worker calls."""
    return settings


Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class CallCaps:
    """The worker's bounds on an NPO config's call settings (``NPO_HTTP_MAX_*``); the defaults
    are the config schema's own maxima, i.e. no clamping."""

    timeout_seconds: float = 300.0
    retry_attempts: int = 20
    retry_backoff_seconds: float = 3600.0
    failure_threshold: int = 1000

    def exceeded(self, given: SourceOrConfig) -> list[str]:
        """One line per config value above its cap, naming the value used instead."""
        config = one_source(given)
        asked = (
            (
                "timeout_seconds",
                config.timeout_seconds,
                self.timeout_seconds,
                "NPO_HTTP_MAX_CALL_TIMEOUT_SECONDS",
            ),
            (
                "retry.max_attempts",
                config.retry.max_attempts,
                self.retry_attempts,
                "NPO_HTTP_MAX_RETRY_ATTEMPTS",
            ),
            (
                "retry.backoff_max_seconds",
                config.retry.backoff_max_seconds,
                self.retry_backoff_seconds,
                "NPO_HTTP_MAX_RETRY_BACKOFF_SECONDS",
            ),
            (
                "circuit_breaker.failure_threshold",
                config.circuit_breaker.failure_threshold,
                self.failure_threshold,
                "NPO_HTTP_MAX_CIRCUIT_FAILURE_THRESHOLD",
            ),
        )
        return [
            f"{field} {value:g} is above the worker's cap {setting}={cap:g}: {cap:g} is used"
            for field, value, cap, setting in asked
            if value > cap
        ]

    def retry(self, config: RetryConfig) -> RetryConfig:
        if (
            config.max_attempts <= self.retry_attempts
            and max(config.backoff_max_seconds, config.backoff_base_seconds)
            <= self.retry_backoff_seconds
        ):
            return config  # within the caps: no copy
        return config.model_copy(
            update={
                "max_attempts": min(config.max_attempts, self.retry_attempts),
                "backoff_max_seconds": min(config.backoff_max_seconds, self.retry_backoff_seconds),
                "backoff_base_seconds": min(
                    config.backoff_base_seconds, self.retry_backoff_seconds
                ),
            }
        )

    def circuit_breaker(self, config: CircuitBreakerConfig) -> CircuitBreakerConfig:
        if config.failure_threshold <= self.failure_threshold:
            return config  # within the cap: no copy
        return config.model_copy(
            update={"failure_threshold": min(config.failure_threshold, self.failure_threshold)}
        )


UNCAPPED = CallCaps()


@dataclass(frozen=True, slots=True)
class Endpoint:
    """What the client needs of an NPO's config between calls: where,
    how to sign, how long to wait."""

    npo_id: str
    """The source's ``state_key``: the npo_id for an NPO's ``main`` source, ``npo_id/source``
    for its others."""
    base_url: str
    auth: AuthConfig
    headers: Mapping[str, str]
    timeout_seconds: float
    error_in_body: ErrorInBodyConfig | None
    rate_limit: RateLimitConfig
    circuit_breaker: CircuitBreakerConfig
    retry: RetryConfig

    @classmethod
    def of(cls, given: SourceOrConfig, caps: CallCaps = UNCAPPED) -> Endpoint:
        """The source's call settings, clamped by ``caps``."""
        config = one_source(given)
        return cls(
            npo_id=config.state_key,
            base_url=config.base_url,
            auth=config.auth,
            headers=config.headers,
            timeout_seconds=min(config.timeout_seconds, caps.timeout_seconds),
            error_in_body=config.error_in_body,
            rate_limit=_shared(config.rate_limit),
            circuit_breaker=_shared(caps.circuit_breaker(config.circuit_breaker)),
            retry=_shared(caps.retry(config.retry)),
        )


@dataclass(slots=True)
class NpoState:
    endpoint: Endpoint
    auth: AnyAuthenticator
    limiter: TokenBucket
    breaker: CircuitBreaker
    retry: Retrier
    source: weakref.ref[NpoSource] | None = None
    """The source object the endpoint was last made of: a call with that very object (decoded
    configs are cached, their sources bound once) skips rebuilding and comparing it. Held weakly:
    a state outlives its NPO's decoded config in the cache, and keeping the source would keep
    its streams in memory for every NPO the worker ever called (about 6 KB each)."""


class NpoStates:
    """A source's ``state_key`` (``npo_id``, or ``npo_id/source``) → :class:`NpoState`, kept
    current with the source each call passes in: each of an NPO's systems has its own rate limit
    and circuit breaker, so one down does not stop the other."""

    def __init__(
        self,
        *,
        make_auth: Callable[[Endpoint], AnyAuthenticator],
        clock: Clock,
        sleep: Sleep,
        random_fraction: Callable[[], float],
        caps: CallCaps = UNCAPPED,
    ) -> None:
        self._make_auth = make_auth
        self._caps = caps
        self._clock = clock
        self._sleep = sleep
        self._random = random_fraction
        self._states: dict[str, NpoState] = {}

    def get(self, given: SourceOrConfig) -> NpoState:
        config = one_source(given)
        state = self._states.get(config.state_key)
        if state is not None and state.source is not None and state.source() is config:
            return state  # the same (immutable) source as the last call: the same settings
        endpoint = Endpoint.of(config, self._caps)
        if state is None:
            state = self._states[endpoint.npo_id] = self._build(endpoint)
            self._warn_capped(config)
        elif state.endpoint != endpoint:
            self._update(state, endpoint)
            self._warn_capped(config)
        state.source = weakref.ref(config)
        return state

    def _warn_capped(self, config: NpoSource) -> None:
        """Once per change of the source's call settings, not per call."""
        for line in self._caps.exceeded(config):
            log.warning("npo=%s source=%s config: %s", config.npo_id, config.name, line)

    def all(self) -> list[NpoState]:
        return list(self._states.values())

    def peek(self, state_key: str) -> NpoState | None:
        return self._states.get(state_key)

    def _build(self, endpoint: Endpoint) -> NpoState:
        return NpoState(
            endpoint=endpoint,
            auth=self._make_auth(endpoint),
            limiter=TokenBucket(endpoint.rate_limit, clock=self._clock, sleep=self._sleep),
            breaker=CircuitBreaker(
                endpoint.circuit_breaker, name=endpoint.npo_id, clock=self._clock
            ),
            retry=self._retry(endpoint),
        )

    def _retry(self, endpoint: Endpoint) -> Retrier:
        return Retrier(endpoint.retry, sleep=self._sleep, random_fraction=self._random)

    def _update(self, state: NpoState, endpoint: Endpoint) -> None:
        old = state.endpoint
        if _changed(old, endpoint, "auth", "base_url", "timeout_seconds", "headers"):
            state.auth = self._make_auth(endpoint)
        if old.rate_limit != endpoint.rate_limit:
            state.limiter = TokenBucket(endpoint.rate_limit, clock=self._clock, sleep=self._sleep)
        if old.circuit_breaker != endpoint.circuit_breaker:
            state.breaker = CircuitBreaker(
                endpoint.circuit_breaker, name=endpoint.npo_id, clock=self._clock
            )
        if old.retry != endpoint.retry:
            state.retry = self._retry(endpoint)
        state.endpoint = endpoint


def _changed(old: Any, new: Any, *names: str) -> bool:
    return any(getattr(old, name) != getattr(new, name) for name in names)
