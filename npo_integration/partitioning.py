"""Which partition a key lands on: the same murmur2 rule as the Kafka producer's default partitioner."""

from __future__ import annotations

from aiokafka.partitioner import murmur2


def partition_for(key: str, partitions: int) -> int:
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions
