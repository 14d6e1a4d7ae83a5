"""An enrolment's outcome is sent until the broker acknowledges it (issue 14: a broker away for
20 s turned confirmed enrolments into dead letters)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from aiokafka.errors import KafkaConnectionError

from npo_integration.delivery import producer as producer_module
from npo_integration.delivery.producer import BatchProducer


class Flaky(BatchProducer):
    def __init__(self, failures: Sequence[BaseException]) -> None:
        super().__init__(["127.0.0.1:1"], client_id="unit")
        self.failures = list(failures)
        self.sent: list[bytes] = []

    async def send_one(self, topic: str, key: bytes, value: bytes, **_: object) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(value)


async def test_the_same_bytes_are_sent_again_until_acknowledged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(producer_module.asyncio, "sleep", _no_wait)
    flaky = Flaky([TimeoutError(), KafkaConnectionError(), TimeoutError()])
    await flaky.send_until_acked("t", b"k", b"outcome")
    assert flaky.sent == [b"outcome"] and not flaky.failures


async def test_a_revoked_partition_stops_the_tries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(producer_module.asyncio, "sleep", _no_wait)
    flaky = Flaky([TimeoutError()] * 5)
    calls = []

    def fence() -> None:
        calls.append(1)
        if len(calls) > 2:
            raise LookupError("revoked")

    with pytest.raises(LookupError):
        await flaky.send_until_acked("t", b"k", b"outcome", before_each=fence)
    assert flaky.sent == [] and len(calls) == 3


async def _no_wait(_: float) -> None:
    return None


async def test_a_broken_sequence_replaces_the_producer_once() -> None:
    """After a broker restart an idempotent producer may fail every send with
    OutOfOrderSequenceNumber: a new producer (a new producer id) takes over."""
    from aiokafka.errors import OutOfOrderSequenceNumber

    class Stub:
        stopped = 0

        async def stop(self) -> None:
            Stub.stopped += 1

    batch = BatchProducer(["127.0.0.1:1"], client_id="unit")
    broken = Stub()
    batch._producer = broken  # type: ignore[assignment]
    await batch._renew_if_broken(broken, [None, TimeoutError()])  # type: ignore[arg-type]
    assert batch._producer is broken and Stub.stopped == 0
    await batch._renew_if_broken(broken, [OutOfOrderSequenceNumber()])  # type: ignore[arg-type]
    assert batch._producer is None and Stub.stopped == 1
    await batch._renew_if_broken(broken, [OutOfOrderSequenceNumber()])  # type: ignore[arg-type]
    assert Stub.stopped == 1
