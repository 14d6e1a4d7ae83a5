"""The once-only protocol: a durable intent before the send, and the crash-window check after."""

from __future__ import annotations

from npo_integration.delivery.once import OncePublisher, Outgoing
from npo_integration.models.state import DeliveryIntent
from npo_integration.partitioning import partition_for
from tests.unit.ingest.conftest import T0, FakeLog


def outgoing(event_id: str = "e-1", key: str = "acme/101") -> Outgoing:
    return Outgoing(
        event_id=event_id, event_type="npo_offering.created", content_hash="h1",
        topic="offerings", key=key, value=f'{{"event_id": "{event_id}"}}'.encode(),
    )


async def test_the_intent_is_recorded_before_the_send_with_the_partitions_end_offset() -> None:
    log = FakeLog(partitions=4)
    key = "acme/101"
    partition = partition_for(key, 4)
    for n in range(3):  # earlier messages on that partition
        await log.send("offerings", partition, key.encode(), f'{{"event_id": "old-{n}"}}'.encode())
    recorded: list[DeliveryIntent] = []

    async def record(intent: DeliveryIntent) -> None:
        assert log.calls[-1] == "end_offset"  # nothing sent between the look-up and the intent
        recorded.append(intent)

    intent = await OncePublisher(log, log.send, lambda: T0).publish(outgoing(key=key), record)
    assert recorded == [intent]
    assert (intent.topic, intent.partition, intent.offset, intent.event_id) == ("offerings", partition, 3, "e-1")
    assert log.calls[-2:] == ["end_offset", "send"]
    assert log.keys("offerings")[-1] == key


async def test_was_delivered_reads_from_the_recorded_offset() -> None:
    log = FakeLog(partitions=1)
    publisher = OncePublisher(log, log.send, lambda: T0)
    intents: list[DeliveryIntent] = []

    async def record(intent: DeliveryIntent) -> None:
        intents.append(intent)

    await publisher.publish(outgoing("e-1"), record)
    assert await publisher.was_delivered(intents[0])
    missing = intents[0].model_copy(update={"event_id": "never-sent"})
    assert not await publisher.was_delivered(missing)
    after = intents[0].model_copy(update={"offset": 1})  # the event is before the recorded offset
    assert not await publisher.was_delivered(after)


async def test_an_empty_partition_holds_nothing() -> None:
    log = FakeLog(partitions=2)
    intent = DeliveryIntent(
        event_id="e", event_type="t", content_hash="h", topic="offerings", partition=1, offset=0, at=T0
    )
    assert not await OncePublisher(log, log.send, lambda: T0).was_delivered(intent)


def test_the_scan_matches_the_event_id_field_not_a_substring() -> None:
    from npo_integration.delivery.kafka_log import carries_event_id, isolation_for

    assert carries_event_id(b'{"event_id": "e-1", "x": 1}', "e-1")
    assert not carries_event_id(b'{"event_id": "e-2", "ref": "e-1"}', "e-1")
    assert not carries_event_id(b"not json e-1", "e-1")
    assert not carries_event_id(None, "e-1")
    assert isolation_for("at_least_once") == "read_uncommitted"
    assert isolation_for("exactly_once") == "read_committed"
