"""NPO configs: current version per NPO and every past version, readable on every worker.

A GlobalTable gives each worker the whole registry: every worker may pull,
enrol or ingest for any NPO, and reads its config locally. Decoding a config is
far dearer than reading its bytes, and the same NPO's config is read for every
record of a batch and every pull: decoded configs are kept in a bounded cache,
valid while the stored bytes are the same (a new version has other bytes).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator

from npo_integration.models.codec import decode, encode
from npo_integration.models.npo_config import NpoConfigVersion
from npo_integration.tables.declare import global_bytes_table

CACHE_SIZE = 20_000

_current = global_bytes_table("npo-configs", help="npo_id -> current NpoConfigVersion (secrets sealed)")
_history = global_bytes_table(
    "npo-config-versions", help="npo_id/version -> NpoConfigVersion (secrets sealed)"
)


class DecodedCache:
    """``npo_id -> (stored bytes, decoded)``, least recently used first out."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[str, tuple[bytes, NpoConfigVersion]] = OrderedDict()

    def get(self, npo_id: str, raw: bytes) -> NpoConfigVersion:
        entry = self._entries.get(npo_id)
        if entry is not None and entry[0] == raw:
            self._entries.move_to_end(npo_id)
            return entry[1]
        version = decode(NpoConfigVersion, raw)
        self._entries[npo_id] = (raw, version)
        self._entries.move_to_end(npo_id)
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return version


_decoded = DecodedCache(CACHE_SIZE)


def current(npo_id: str) -> NpoConfigVersion | None:
    raw = _current.get(npo_id.encode())
    return None if raw is None else _decoded.get(npo_id, raw)


def all_current() -> Iterator[NpoConfigVersion]:
    for key, raw in _current.items():
        yield _decoded.get(key.decode(), raw)


def history(npo_id: str) -> list[NpoConfigVersion]:
    latest = current(npo_id)
    if latest is None:
        return []
    versions = []
    for number in range(1, latest.version + 1):
        raw = _history.get(f"{npo_id}/{number}".encode())
        if raw is not None:
            versions.append(decode(NpoConfigVersion, raw))
    return versions


def store(version: NpoConfigVersion) -> None:
    """Write a new version; call only from the config agent (stream context)."""
    value = encode(version)
    _history[f"{version.npo_id}/{version.version}".encode()] = value
    _current[version.npo_id.encode()] = value
