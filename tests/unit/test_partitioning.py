"""Our murmur2 is the Kafka producer's: keys land where any Kafka client would put them."""

from __future__ import annotations

import random

from aiokafka.partitioner import murmur2 as aiokafka_murmur2

from npo_integration.partitioning import murmur2, partition_for


def test_murmur2_equals_the_kafka_clients_for_every_length_and_byte() -> None:
    rng = random.Random(7)
    samples = [bytes(rng.randrange(256) for _ in range(n)) for n in range(0, 70) for _ in range(20)]
    samples += ["npo-ü/offerings/42".encode(), b"\xff\xff\xff\xff\xff"]
    assert [murmur2(s) for s in samples] == [aiokafka_murmur2(s) for s in samples]


def test_partition_for_follows_the_default_partitioner() -> None:
    # aiokafka's DefaultPartitioner: murmur2, positive, modulo the partition count.
    keys = [f"npo-{n}" for n in range(50)]
    assert [partition_for(k, 8) for k in keys] == [
        (aiokafka_murmur2(k.encode()) & 0x7FFFFFFF) % 8 for k in keys
    ]
