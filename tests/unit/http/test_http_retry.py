import pytest

from npo_integration.errors import FatalError, RetriableError
from npo_integration.http.retry import Retrier
from npo_integration.models.npo_config import RetryConfig

CONFIG = RetryConfig(max_attempts=4, backoff_base_seconds=1, backoff_max_seconds=5)


def test_full_jitter_backoff_is_capped() -> None:
    top = Retrier(CONFIG, random_fraction=lambda: 1.0)
    assert [top.delay(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 4, 5, 5]
    bottom = Retrier(CONFIG, random_fraction=lambda: 0.0)
    assert bottom.delay(3) == 0.0


def test_server_retry_after_wins_when_larger_and_too_long_gives_up() -> None:
    policy = Retrier(CONFIG, random_fraction=lambda: 0.5)
    assert policy.delay(1, retry_after=3) == 3
    assert policy.delay(3, retry_after=0.1) == 2
    assert policy.delay(1, retry_after=3600) is None


class Flaky:
    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "ok"


async def test_retries_until_success(fake_sleep) -> None:
    policy = Retrier(CONFIG, sleep=fake_sleep, random_fraction=lambda: 1.0)
    op = Flaky([RetriableError("a"), RetriableError("b", retry_after=4)])
    assert await policy.run(op) == "ok"
    assert op.calls == 3
    assert fake_sleep.calls == [1, 4]


async def test_gives_up_after_max_attempts(fake_sleep) -> None:
    policy = Retrier(CONFIG, sleep=fake_sleep)
    op = Flaky([RetriableError(str(n)) for n in range(10)])
    with pytest.raises(RetriableError, match="3"):
        await policy.run(op)
    assert op.calls == 4 and len(fake_sleep.calls) == 3


async def test_fatal_errors_and_refused_retries_raise_at_once(fake_sleep) -> None:
    policy = Retrier(CONFIG, sleep=fake_sleep)
    fatal = Flaky([FatalError("no")])
    with pytest.raises(FatalError):
        await policy.run(fatal)
    refused = Flaky([RetriableError("later")])
    with pytest.raises(RetriableError):
        await policy.run(refused, should_retry=lambda exc: False)
    too_long = Flaky([RetriableError("later", retry_after=999)])
    with pytest.raises(RetriableError):
        await policy.run(too_long)
    assert (fatal.calls, refused.calls, too_long.calls, fake_sleep.calls) == (1, 1, 1, [])
