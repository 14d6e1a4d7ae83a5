"""The client's per-source states: kept for every NPO a worker calls, so they must hold what a
call needs between calls and not the decoded config it was made of."""

from __future__ import annotations

import gc
import random
import time
import weakref

from npo_integration.http.npo_state import NpoStates


async def _no_sleep(seconds: float) -> None:
    return None


def _states() -> NpoStates:
    return NpoStates(
        make_auth=lambda endpoint: None,  # type: ignore[arg-type, return-value]
        clock=time.monotonic,
        sleep=_no_sleep,
        random_fraction=random.random,
    )


def test_a_state_does_not_keep_its_source_in_memory(config_factory) -> None:
    states = _states()
    source = config_factory("https://npo.example.org").all_sources()[0]
    state = states.get(source)
    alive = weakref.ref(source)
    del source
    gc.collect()
    assert alive() is None  # the streams and the rest of the decoded config are freed
    assert states.peek("test-npo") is state


def test_the_same_source_or_an_equal_one_keeps_the_state_and_its_parts(config_factory) -> None:
    states = _states()
    source = config_factory("https://npo.example.org").all_sources()[0]
    state = states.get(source)
    limiter, breaker = state.limiter, state.breaker
    assert states.get(source) is state
    decoded_again = config_factory("https://npo.example.org").all_sources()[0]
    assert decoded_again is not source
    assert states.get(decoded_again) is state
    assert (state.limiter, state.breaker) == (limiter, breaker)  # not rebuilt: nothing changed


def test_a_changed_rate_limit_rebuilds_only_the_limiter(config_factory) -> None:
    states = _states()
    state = states.get(config_factory("https://npo.example.org").all_sources()[0])
    limiter, breaker = state.limiter, state.breaker
    changed = config_factory(
        "https://npo.example.org", rate_limit={"requests_per_second": 5, "burst": 5}
    ).all_sources()[0]
    assert states.get(changed) is state
    assert state.limiter is not limiter
    assert state.breaker is breaker
