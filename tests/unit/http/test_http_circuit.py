import pytest

from npo_integration.http.circuit import CircuitBreaker
from npo_integration.http.errors import CircuitOpenError
from npo_integration.models.npo_config import CircuitBreakerConfig


@pytest.fixture
def breaker(clock) -> CircuitBreaker:
    return CircuitBreaker(
        CircuitBreakerConfig(failure_threshold=3, reset_after_seconds=30), name="npo-a", clock=clock
    )


def fail(breaker: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        probe = breaker.before_call()
        breaker.record_failure(probe=probe)


def test_opens_after_consecutive_failures_only(breaker: CircuitBreaker) -> None:
    fail(breaker, 2)
    breaker.before_call()
    breaker.record_success()  # resets the count
    fail(breaker, 2)
    assert breaker.state == "closed"
    fail(breaker, 1)
    assert breaker.state == "open"


def test_open_circuit_fails_fast_with_time_until_probe(breaker: CircuitBreaker, clock) -> None:
    fail(breaker, 3)
    clock.advance(10)
    with pytest.raises(CircuitOpenError) as info:
        breaker.before_call()
    assert info.value.retry_after == pytest.approx(20)
    assert "npo-a" in str(info.value)


def test_half_open_lets_one_probe_and_success_closes(breaker: CircuitBreaker, clock) -> None:
    fail(breaker, 3)
    clock.advance(30)
    assert breaker.state == "half_open"
    assert breaker.before_call() is True
    with pytest.raises(CircuitOpenError) as info:  # a second caller while the probe is out
        breaker.before_call()
    assert info.value.retry_after is None
    breaker.record_success()
    assert breaker.state == "closed"
    assert breaker.before_call() is False


def test_failed_probe_reopens_for_a_full_period(breaker: CircuitBreaker, clock) -> None:
    fail(breaker, 3)
    clock.advance(31)
    probe = breaker.before_call()
    breaker.record_failure(probe=probe)
    assert breaker.state == "open"
    clock.advance(29)
    with pytest.raises(CircuitOpenError):
        breaker.before_call()
    clock.advance(1)
    assert breaker.before_call() is True


def test_abandoned_probe_frees_the_slot(breaker: CircuitBreaker, clock) -> None:
    fail(breaker, 3)
    clock.advance(30)
    probe = breaker.before_call()
    breaker.release(probe=probe)
    assert breaker.before_call() is True


def test_late_failure_of_an_earlier_call_does_not_extend_the_open_period(
    breaker: CircuitBreaker, clock
) -> None:
    early = breaker.before_call()
    fail(breaker, 3)
    clock.advance(20)
    breaker.record_failure(probe=early)
    clock.advance(10)
    assert breaker.before_call() is True
