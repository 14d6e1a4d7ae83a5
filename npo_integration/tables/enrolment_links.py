"""Enrolment links: ``npo_id/ref:<npo_enrolment_ref>`` and
``npo_id/user:<u>/offering:<o>`` -> ``EnrolmentLink``.

Written by ``agents/enrolment_links.py`` from the enrolment-links topic, which is
keyed by npo_id with the raw-records topic's partition count: a link is on the
partition of its NPO's raw records, and the ingestion agent reads it locally.
An ``enrolment.unlinked`` value stays as the record of a cancellation.
"""

from __future__ import annotations

from npo_integration.ingest import links
from npo_integration.models.codec import decode, encode
from npo_integration.models.internal import EnrolmentLink
from npo_integration.tables.declare import bytes_table

_table = bytes_table(
    "npo-enrolment-links", help="npo_id/ref:<ref> | npo_id/user:<u>/offering:<o> -> EnrolmentLink"
)


def get(key: str) -> EnrolmentLink | None:
    raw = _table.get(key.encode())
    return None if raw is None else decode(EnrolmentLink, raw)


def find(keys: list[str]) -> EnrolmentLink | None:
    """The link under the first key that has one (most specific first)."""
    for key in keys:
        link = get(key)
        if link is not None:
            return link
    return None


def apply(link: EnrolmentLink) -> list[str]:
    """Store a link or an unlink under each of its keys; call only from the links
    agent. Returns the keys written."""
    written = []
    value = encode(link)
    for key in links.keys_of(link):
        if links.replaces(get(key), link):
            _table[key.encode()] = value
            written.append(key)
    return written
