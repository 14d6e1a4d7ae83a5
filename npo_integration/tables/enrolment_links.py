"""Enrolment links: ``npo_id/ref:<npo_enrolment_ref>`` and
``npo_id/user:<u>/offering:<o>`` -> ``EnrolmentLink``.

Written by ``agents/enrolment_links.py`` from the enrolment-links topic, which is
keyed by npo_id with the raw-records topic's partition count: a link is on the
partition of its NPO's raw records, and the ingestion agent reads it locally.
An ``enrolment.unlinked`` value stays as the record of a cancellation.

The changelog is batched (``delivery/acked_table.py``): the links agent waits until a batch's
writes are acknowledged before its messages are, so a link read from the topic is in the
changelog (and on a new owner) before the topic forgets it.

An erasure deletes a candidate's links and leaves ``npo_id/erased:<sha256 of the key>`` ->
``ErasedLink`` in their place (the key may hold an email): progress still reported for the
erased enrolment then finds it as unlinked, and is dropped instead of kept as unprocessed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from npo_integration.app import app
from npo_integration.delivery.acked_table import acked_bytes_table
from npo_integration.erasure.personal import link_marker_key
from npo_integration.ingest import links
from npo_integration.models.codec import decode, encode, json_string
from npo_integration.models.erasure import ErasedLink
from npo_integration.models.internal import EnrolmentLink
from npo_integration.partitioning import partition_for
from npo_integration.tables import ordered
from npo_integration.tables.declare import PERSONAL_CHANGELOG, ROCKSDB_OPTIONS
from npo_integration.tables.scan import matching
from npo_integration.worker_resources import batch_producer

log = logging.getLogger(__name__)

_table = acked_bytes_table(
    app,
    "npo-enrolment-links",
    help="npo_id/ref:<ref> | npo_id/user:<u>/offering:<o> -> EnrolmentLink; npo_id/erased:<h>",
    producer=batch_producer,
    options=ROCKSDB_OPTIONS,
    extra_topic_configs=PERSONAL_CHANGELOG,
)
MARKER = "/erased:"
LINK_KINDS = ("ref:", "user:")
"""How link keys go on after ``npo_id/`` (``ingest.links``); markers are ``MARKER``."""


def get(key: str) -> EnrolmentLink | None:
    raw = _table.get_raw(key.encode())
    return None if raw is None else decode(EnrolmentLink, raw)


def find(keys: list[str]) -> EnrolmentLink | None:
    """The link under the first key that has one (most specific first); else, when a key's link
    was erased, an ``enrolment.unlinked`` link of its assignment (nothing of the candidate's)."""
    for key in keys:
        link = get(key)
        if link is not None:
            return link
    for key in keys:
        npo_id = key.split("/", 1)[0]
        erased = marker(link_marker_key(npo_id, key))
        if erased is not None:
            return EnrolmentLink(
                event_type="enrolment.unlinked",
                npo_id=erased.npo_id,
                assignment_id=erased.assignment_id,
                candidate_id="",
                npo_offering_ref="",
            )
    return None


def apply(link: EnrolmentLink) -> list[str]:
    """Store a link or an unlink under each of its keys; call only from the links
    agent. Returns the keys written."""
    written = []
    value = encode(link)
    for key in links.keys_of(link):
        if links.replaces(get(key), link):
            _table.put_raw(key.encode(), value)
            written.append(key)
    return written


async def wait_acked() -> None:
    """Return once every write made so far is acknowledged by the broker."""
    await _table.wait_acked()


def of_candidate(
    candidate_id: str, partition: int, partitions: int
) -> Iterator[tuple[str, EnrolmentLink]]:
    """(key, link) of the candidate's links stored on ``partition`` (links sit on their
    npo_id's partition); a scan of this worker's links."""
    needle = b'"candidate_id":' + json_string(candidate_id)
    for raw_key, link in matching(list(_table.items()), needle, EnrolmentLink):
        here = partition_for(link.npo_id, partitions) == partition
        if here and link.candidate_id == candidate_id:
            yield raw_key.decode(), link


def delete(key: str) -> None:
    """Remove a key (its changelog gets a tombstone); call while processing its partition."""
    _table.pop(key.encode(), None)


def purge_npo(npo_id: str, limit: int) -> int:
    """Delete up to ``limit`` of the NPO's links (tombstones), keeping its erasure markers (they
    keep an erased candidate's late progress out); call while processing the NPO's partition."""
    keys = _npo_keys(npo_id, limit)
    for key in keys:
        _table.pop(key, None)
    return len(keys)


def holds_links(npo_id: str) -> bool:
    """Whether the NPO has links (erasure markers aside) on this worker."""
    return bool(_npo_keys(npo_id, 1))


def _npo_keys(npo_id: str, limit: int) -> list[bytes]:
    """Up to ``limit`` link keys of the NPO (``ref:`` and ``user:`` keys, not its markers)."""
    keys: list[bytes] = []
    for kind in LINK_KINDS:
        keys += ordered.keys_with_prefix(_table, f"{npo_id}/{kind}".encode(), limit - len(keys))
    return keys


def put_marker(key: str, erased: ErasedLink) -> None:
    _table[key.encode()] = encode(erased)


def marker(key: str) -> ErasedLink | None:
    raw = _table.get_raw(key.encode())
    return None if raw is None else decode(ErasedLink, raw)


def markers_of(erasure_id: str, partition: int, partitions: int) -> Iterator[ErasedLink]:
    """The markers an erasure left on ``partition`` (a scan of this worker's links)."""
    needle = b'"erasure_id":' + json_string(erasure_id)
    markers = [(k, v) for k, v in _table.items() if MARKER.encode() in k]
    for _, erased in matching(markers, needle, ErasedLink):
        here = partition_for(erased.npo_id, partitions) == partition
        if here and erased.erasure_id == erasure_id:
            yield erased
