"""OAuth2 grants (sealed rotating refresh tokens), keyed by npo_id, partitioned like the NPO.

Unlike the other tables, this one is written from a web request, not from an event: the worker
that owns the key's partition (the only one that refreshes, see ``grant_broker.py``) sends the
changelog record itself, waits for the broker's acknowledgement, then writes its local store. So
a write is durable when :func:`durable_put` returns ("store before use"), and whichever worker
owns the partition next recovers it from the changelog like any other table.
"""

from __future__ import annotations

from faust.streams import _current_event

from npo_integration.app import settings
from npo_integration.delivery.once import Addressed
from npo_integration.delivery.producer import BatchProducer
from npo_integration.models.codec import decode, encode
from npo_integration.models.oauth_grant import NpoGrants
from npo_integration.partitioning import partition_for
from npo_integration.tables.declare import bytes_table

table = bytes_table("npo-oauth-grants", help="npo_id -> NpoGrants (sealed OAuth2 grants)")


def get(npo_id: str) -> NpoGrants | None:
    # RocksDB reads the current event's partition: in the enrol agent that is the assignment's,
    # not the NPO's, and the grant would look missing. Read as a timer or a web request does.
    token = _current_event.set(None)
    try:
        raw = table.get(npo_id.encode())
    finally:
        _current_event.reset(token)
    return None if raw is None else decode(NpoGrants, raw)


def partition(npo_id: str) -> int:
    return partition_for(npo_id, settings.topic_partitions)


async def durable_put(value: NpoGrants, producer: BatchProducer) -> None:
    """Write ``value`` to the changelog, acknowledged, then to this worker's store. Call only on
    the worker that owns the key's partition."""
    key, raw, number = value.npo_id.encode(), encode(value), partition(value.npo_id)
    topic = table.changelog_topic.get_topic_name()
    await producer.send_all_or_raise([Addressed(topic, number, key, raw)])
    store = table.data
    by_partition = getattr(store, "_db_for_partition", None)
    if by_partition is None:  # the memory store (tests): a dict
        store[key] = raw
        return
    # RocksDB keeps a database per partition and picks it from the current event; there is none.
    by_partition(number).put(key, raw)
    store._key_index[key] = number  # type: ignore[attr-defined]


async def durable_delete(npo_id: str, producer: BatchProducer) -> None:
    """Delete the NPO's grants (an erased NPO keeps no credentials): the changelog tombstone,
    acknowledged, then this worker's store. Call only on the worker that owns the key's
    partition, as :func:`durable_put`."""
    key, number = npo_id.encode(), partition(npo_id)
    topic = table.changelog_topic.get_topic_name()
    await producer.send_all_or_raise([Addressed(topic, number, key, None)])
    store = table.data
    by_partition = getattr(store, "_db_for_partition", None)
    if by_partition is None:  # the memory store (tests): a dict
        store.pop(key, None)
        return
    by_partition(number).delete(key)
    store._key_index.pop(key, None)  # type: ignore[attr-defined]
