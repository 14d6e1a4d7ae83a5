"""The once-only protocol: durable intents before the batch is sent, and
the crash-window check after."""

from __future__ import annotations

from npo_integration.delivery.once import OncePublisher, Outgoing
from npo_integration.models.state import DeliveryIntent, IntentValues, intent_of
from npo_integration.partitioning import partition_for
from tests.unit.ingest.conftest import T0, FakeLog


def outgoing(event_id: str = "e-1", key: str = "acme/101") -> Outgoing:
    return Outgoing(
        event_id=event_id,
        event_type="npo_offering.created",
        content_hash="h1",
        change=1,
        topic="offerings",
        key=key,
        value=f'{{"event_id": "{event_id}"}}'.encode(),
    )


async def test_the_intents_are_recorded_before_the_send_with_each_partitions_end_offset() -> None:
    log = FakeLog(partitions=4)
    keys = ["acme/101", "acme/102", "acme/103"]
    partition = partition_for(keys[0], 4)
    publisher = OncePublisher(log, log.send_all, lambda: T0)
    # earlier messages
    await publisher.publish([outgoing(f"old-{n}", keys[0]) for n in range(3)], _ignore)
    recorded: list[list[IntentValues]] = []

    async def record(intents: list[IntentValues]) -> None:
        assert log.calls[-1] == "end_offsets"  # nothing sent between the look-up and the intents
        recorded.append(intents)

    errors = await publisher.publish([outgoing(f"e-{n}", k) for n, k in enumerate(keys)], record)
    assert errors == [None, None, None]
    [intents] = [[intent_of(values) for values in batch] for batch in recorded]
    assert [i.event_id for i in intents] == ["e-0", "e-1", "e-2"]
    assert (intents[0].partition, intents[0].offset) == (partition, 3)
    assert all(i.offset == 0 for i in intents if i.partition != partition)
    assert log.calls[-2:] == ["end_offsets", "send"]  # one look-up, one send, for the whole batch


async def test_delivered_reads_each_partition_once_from_the_recorded_offsets() -> None:
    log = FakeLog(partitions=1)
    publisher = OncePublisher(log, log.send_all, lambda: T0)
    recorded: list[DeliveryIntent] = []

    async def record(intents: list[IntentValues]) -> None:
        recorded.extend(map(intent_of, intents))

    await publisher.publish([outgoing("e-1", "a"), outgoing("e-2", "b")], record)
    missing = recorded[0].model_copy(update={"event_id": "never-sent"})
    assert await publisher.delivered([*recorded, missing]) == {"e-1", "e-2"}
    assert log.calls.count("scan") == 1
    # e-1 is before this intent's offset: another publish
    later = recorded[0].model_copy(update={"offset": 1})
    assert await publisher.delivered([later]) == set()


async def test_an_empty_partition_holds_nothing() -> None:
    log = FakeLog(partitions=2)
    intent = DeliveryIntent(
        event_id="e",
        event_type="t",
        content_hash="h",
        topic="offerings",
        partition=1,
        offset=0,
        at=T0,
    )
    assert await OncePublisher(log, log.send_all, lambda: T0).delivered([intent]) == set()


async def test_a_failed_send_is_reported_per_event_after_its_intent_was_recorded() -> None:
    log = FakeLog(partitions=2)
    log.fail_send = TimeoutError("no acknowledgement")
    recorded: list[IntentValues] = []

    async def record(intents: list[IntentValues]) -> None:
        recorded.extend(intents)

    errors = await OncePublisher(log, log.send_all, lambda: T0).publish(
        [outgoing("e-1"), outgoing("e-2", "x")], record
    )
    assert [type(e) for e in errors] == [TimeoutError, TimeoutError] and len(recorded) == 2


def test_the_scan_reads_the_event_id_field_not_a_substring() -> None:
    from npo_integration.delivery.kafka_log import event_id_of, isolation_for

    assert event_id_of(b'{"event_id": "e-1", "x": 1}') == "e-1"
    assert event_id_of(b'{"event_id": "e-2", "ref": "e-1"}') == "e-2"
    assert event_id_of(b'{"ref": "event_id"}') is None
    assert event_id_of(b"not json e-1") is None
    assert event_id_of(None) is None
    assert isolation_for("at_least_once") == "read_uncommitted"
    assert isolation_for("exactly_once") == "read_committed"


async def _ignore(intents: list[DeliveryIntent]) -> None:
    return None
