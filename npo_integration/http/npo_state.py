"""The per-NPO parts of the client (authenticator, rate limiter, circuit breaker, retry policy).

Each part is rebuilt only when its own settings change, so editing a stream
does not drop a cached OAuth token or reset an open circuit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from npo_integration.http.auth import AnyAuthenticator
from npo_integration.http.circuit import CircuitBreaker
from npo_integration.http.ratelimit import TokenBucket
from npo_integration.http.retry import RetryPolicy
from npo_integration.models.npo_config import NpoIntegrationConfig

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(slots=True)
class NpoState:
    config: NpoIntegrationConfig
    auth: AnyAuthenticator
    limiter: TokenBucket
    breaker: CircuitBreaker
    retry: RetryPolicy


class NpoStates:
    """``npo_id`` → :class:`NpoState`, kept current with the config each call passes in."""

    def __init__(
        self,
        *,
        make_auth: Callable[[NpoIntegrationConfig], AnyAuthenticator],
        clock: Clock,
        sleep: Sleep,
        random_fraction: Callable[[], float],
    ) -> None:
        self._make_auth = make_auth
        self._clock = clock
        self._sleep = sleep
        self._random = random_fraction
        self._states: dict[str, NpoState] = {}

    def get(self, config: NpoIntegrationConfig) -> NpoState:
        state = self._states.get(config.npo_id)
        if state is None:
            state = self._states[config.npo_id] = self._build(config)
        elif state.config is not config and state.config != config:
            self._update(state, config)
        return state

    def all(self) -> list[NpoState]:
        return list(self._states.values())

    def peek(self, npo_id: str) -> NpoState | None:
        return self._states.get(npo_id)

    def forget(self, npo_id: str) -> None:
        self._states.pop(npo_id, None)

    def _build(self, config: NpoIntegrationConfig) -> NpoState:
        return NpoState(
            config=config,
            auth=self._make_auth(config),
            limiter=TokenBucket(config.rate_limit, clock=self._clock, sleep=self._sleep),
            breaker=CircuitBreaker(config.circuit_breaker, name=config.npo_id, clock=self._clock),
            retry=self._retry(config),
        )

    def _retry(self, config: NpoIntegrationConfig) -> RetryPolicy:
        return RetryPolicy(config.retry, sleep=self._sleep, random_fraction=self._random)

    def _update(self, state: NpoState, config: NpoIntegrationConfig) -> None:
        old = state.config
        if _changed(old, config, "auth", "base_url", "timeout_seconds", "headers"):
            state.auth = self._make_auth(config)
        if old.rate_limit != config.rate_limit:
            state.limiter = TokenBucket(config.rate_limit, clock=self._clock, sleep=self._sleep)
        if old.circuit_breaker != config.circuit_breaker:
            state.breaker = CircuitBreaker(
                config.circuit_breaker, name=config.npo_id, clock=self._clock
            )
        if old.retry != config.retry:
            state.retry = self._retry(config)
        state.config = config


def _changed(old: Any, new: Any, *names: str) -> bool:
    return any(getattr(old, name) != getattr(new, name) for name in names)
