"""A dead letter can always be written, and a message too large to send fails alone."""

from __future__ import annotations

import json
from typing import Any

import pytest

from npo_integration.agents import dead_letters as letters
from npo_integration.delivery.once import Addressed
from npo_integration.delivery.producer import BatchProducer, MessageTooLargeError
from tests.unit.badinput.test_json_input import DEEP, deep_value


class FakeTopic:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes, bytes]] = []

    async def send(self, *, key: bytes, value: bytes) -> None:
        self.sent.append((key, value))


@pytest.fixture
def topic(monkeypatch: pytest.MonkeyPatch) -> FakeTopic:
    fake = FakeTopic()
    monkeypatch.setattr(letters, "dead_letters", fake)
    return fake


def test_payload_of_any_unparsed_input_is_a_small_summary_and_never_raises() -> None:
    fairly_deep = json.dumps(deep_value(200)).encode()  # parses, but too deep to hand around
    for raw in (b'{"a": 1}', b"\xff{", DEEP, fairly_deep):  # json.loads would raise on DEEP
        summary = letters.payload_of(raw)
        assert summary is not None and summary["length"] == len(raw)
        assert len(json.dumps(summary)) < 1_000


@pytest.mark.parametrize(
    ("payload", "omitted"),
    [
        ({"text": "x" * 2_000_000}, "payload of 2000012 bytes, more than the 65536"),
        (deep_value(5_000), "payload nested more than 64 levels deep"),
    ],
    ids=["2MB", "deep"],
)
async def test_a_dead_letter_of_anything_is_small_and_says_what_was_left_out(
    topic: FakeTopic, payload: Any, omitted: str
) -> None:
    await letters.dead_letter(
        source_topic="t", reason="r" * 100_000, payload=payload, key="k" * 10_000
    )
    ((key, value),) = topic.sent
    letter = json.loads(value)
    assert len(value) < 10_000
    assert letter["payload"]["omitted"].startswith(omitted)
    assert letter["reason"].endswith("... (100000 characters)")
    assert len(letter["key"]) < 600 and key == letter["key"].encode()


async def test_a_small_dead_letter_keeps_its_payload(topic: FakeTopic) -> None:
    await letters.dead_letter(source_topic="t", reason="bad", payload={"a": [1]}, npo_id="n")
    assert json.loads(topic.sent[0][1])["payload"] == {"a": [1]}


def unreachable_producer() -> BatchProducer:
    return BatchProducer(["127.0.0.1:1"], client_id="unit")  # never connected: nothing is sent


async def test_a_message_over_the_request_limit_fails_alone_before_anything_is_sent() -> None:
    producer = unreachable_producer()
    too_big = Addressed("t", 0, b"k", b"x" * 2_000_000)
    errors = await producer.send_all([too_big, too_big])
    assert all(isinstance(e, MessageTooLargeError) for e in errors)
    assert "of 2000089 bytes is over the 1048576-byte limit" in str(errors[0])
    with pytest.raises(MessageTooLargeError):
        await producer.send_all_or_raise([too_big])
    with pytest.raises(MessageTooLargeError):
        await producer.send_one("t", b"k", too_big.value or b"")
