"""NPO configs: current version per NPO and every past version, readable on every worker.

A GlobalTable gives each worker the whole registry: every worker may pull,
enrol or ingest for any NPO, and reads its config locally.
"""

from __future__ import annotations

from collections.abc import Iterator

from npo_integration.models.codec import decode, encode
from npo_integration.models.npo_config import NpoConfigVersion
from npo_integration.tables.declare import global_bytes_table

_current = global_bytes_table("npo-configs", help="npo_id -> current NpoConfigVersion (secrets sealed)")
_history = global_bytes_table(
    "npo-config-versions", help="npo_id/version -> NpoConfigVersion (secrets sealed)"
)


def current(npo_id: str) -> NpoConfigVersion | None:
    raw = _current.get(npo_id.encode())
    return None if raw is None else decode(NpoConfigVersion, raw)


def all_current() -> Iterator[NpoConfigVersion]:
    for raw in _current.values():
        yield decode(NpoConfigVersion, raw)


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
