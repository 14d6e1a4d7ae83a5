"""NPO configs: current version per NPO, readable on every worker, and every past version.

A GlobalTable gives each worker the whole registry: every worker may pull,
enrol or ingest for any NPO, and reads its config locally. Past versions are
read only by the admin history view: they live in a partitioned table (on the
owner of the NPO's partition, where the view is routed), so no worker reads
every other worker's history back from its changelog. Decoding a config is
far dearer than reading its bytes, and the same NPO's config is read for every
record of a batch and every pull: decoded configs are kept in a bounded cache,
valid while the stored bytes are the same (a new version has other bytes).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from faust.types import TP, EventT
from pydantic import BaseModel, ConfigDict

from npo_integration.app import app
from npo_integration.delivery.acked_table import acked_bytes_table
from npo_integration.delivery.own_writes import OwnWrites
from npo_integration.models.codec import Versioned, encode
from npo_integration.models.npo_config import NpoConfigVersion
from npo_integration.registry.config_input import decode_config_version
from npo_integration.tables import ordered
from npo_integration.tables.declare import ROCKSDB_OPTIONS, global_bytes_table
from npo_integration.worker_resources import batch_producer, output_log

CACHE_SIZE = 2_000
"""Decoded configs kept (about 30 KB each for a declarative one): the NPOs
being pulled and ingested now."""

ConfigListener = Callable[[str, bytes | None, NpoConfigVersion | None], None]
"""Told ``(npo_id, stored bytes, decoded)`` whenever an NPO's current config changes, on any
worker (bytes ``None``: gone). ``decoded`` is given for this worker's own writes, which have it
at hand, and ``None`` for another worker's (read from the changelog): decode what you need."""
_listeners: list[ConfigListener] = []


def subscribe(listener: ConfigListener) -> None:
    """Call ``listener`` on every change of a current config: this worker's
    writes and others' (changelog)."""
    _listeners.append(listener)


def _notify(npo_id: str, raw: bytes | None, decoded: NpoConfigVersion | None = None) -> None:
    for listener in _listeners:
        listener(npo_id, raw, decoded)


async def _changelog_event(event: EventT[bytes]) -> None:
    key = event.key
    if isinstance(key, bytes):
        value = event.value
        npo_id = key.decode()
        if isinstance(value, bytes) and _own_writes.read_back(npo_id, value):
            return  # this worker's own write, read back: its listeners were told at store()
        _notify(npo_id, value if isinstance(value, bytes) else None)


_current = global_bytes_table(
    "npo-configs",
    help="npo_id -> current NpoConfigVersion (secrets sealed)",
    producer=batch_producer,
    on_changelog_event=_changelog_event,
)
_history = acked_bytes_table(
    app,
    "npo-config-versions",
    help="npo_id/version -> NpoConfigVersion (secrets sealed), on the NPO's partition",
    producer=batch_producer,
    options=ROCKSDB_OPTIONS,
)
history_table = _history  # for table_route: keys start with npo_id, partitioned by it


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
        version = decode_config_version(raw)
        self.put(npo_id, raw, version)
        return version

    def put(self, npo_id: str, raw: bytes, version: NpoConfigVersion) -> None:
        self._entries[npo_id] = (raw, version)
        self._entries.move_to_end(npo_id)
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def replace(self, npo_id: str, raw: bytes, version: NpoConfigVersion) -> None:
        """The NPO's new version, if its old one is kept: a write is no sign of reads to come,
        and a burst of registrations would evict the configs being pulled now (and pay for
        freeing each, about a tenth of a config's apply at 100,000 NPOs: bench/registry.py)."""
        if npo_id in self._entries:
            self._entries[npo_id] = (raw, version)

    def __contains__(self, npo_id: str) -> bool:
        return npo_id in self._entries


_decoded = DecodedCache(CACHE_SIZE)


OWN_WRITES_KEPT = 200_000
"""NPOs with a write not read back yet (a hash each): more than a burst of registrations holds."""
_own_writes = OwnWrites(OWN_WRITES_KEPT)


def current(npo_id: str) -> NpoConfigVersion | None:
    raw = _current.get_raw(npo_id.encode())
    return None if raw is None else _decoded.get(npo_id, raw)


CATCH_UP_POLL_SECONDS = 0.05


class _SharedEnds:
    """The changelog's end offsets, read once for every caller waiting at the time.

    A caller may only use a read that started after it asked (a config stored before the call
    must be inside the offsets), so callers arriving during a read wait for the next one: a burst
    of assignments of unregistered NPOs costs one broker request per round trip, not one each."""

    def __init__(self) -> None:
        self._next: asyncio.Future[dict[tuple[str, int], int]] | None = None
        self._reading = False
        self._task: asyncio.Task[None] | None = None  # held: the loop keeps only a weak reference

    async def read(self) -> dict[tuple[str, int], int]:
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
            if not self._reading:
                self._reading = True
                self._task = asyncio.get_running_loop().create_task(self._read_while_asked())
        return await asyncio.shield(self._next)

    async def _read_while_asked(self) -> None:
        try:
            while self._next is not None:
                answer, self._next = self._next, None
                try:
                    answer.set_result(await _end_offsets())
                except Exception as exc:  # every waiter of this read sees the broker's error
                    answer.set_exception(exc)
        finally:
            self._reading = False


async def _end_offsets() -> dict[tuple[str, int], int]:
    topic = _current.changelog_topic.get_topic_name()
    count = await output_log.partitions(topic)
    return await output_log.end_offsets([(topic, partition) for partition in range(count)])


_shared_ends = _SharedEnds()


async def caught_up(timeout: float) -> bool:
    """Wait until this worker's copy holds every config written before the call, ``False`` if it
    does not within ``timeout``.

    Another worker's write reaches this worker's copy of the GlobalTable only once it is read
    back from the changelog: an NPO registered moments before its first assignment can be
    missing here although it exists. So before "no config" is believed, the changelog's end
    offsets are asked of the broker (one read shared by the callers waiting for it) and the
    store's applied offsets (the last record applied per partition, this worker's own writes
    included) are awaited up to them.
    """
    ends = await _shared_ends.read()
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        behind = [tp for tp, end in ends.items() if _applied(TP(*tp)) < end - 1]
        if not behind:
            return True
        if asyncio.get_running_loop().time() >= deadline:
            return False
        await asyncio.sleep(CATCH_UP_POLL_SECONDS)


def _applied(tp: TP) -> int:
    """Offset of the last changelog record in this worker's store (-1: none)."""
    offset = _current.data.persisted_offset(tp)
    return -1 if offset is None else int(offset)


def current_raw(npo_id: str) -> bytes | None:
    """The NPO's current config as stored, undecoded."""
    return _current.get_raw(npo_id.encode())


def all_current() -> Iterator[NpoConfigVersion]:
    for key, raw in _current.items():
        yield _decoded.get(key.decode(), raw)


def page(after: str | None, limit: int) -> list[tuple[str, bytes]]:
    """Up to ``limit`` NPOs' current configs as stored, in npo_id order, after ``after``."""
    return [
        (key.decode(), raw)
        for key, raw in ordered.page(_current, after.encode() if after else None, limit)
    ]


def stored() -> Iterator[tuple[str, bytes]]:
    """Every NPO's current config as stored, undecoded (for readers that need a part of it)."""
    for key, raw in _current.items():
        yield key.decode(), raw


def version(npo_id: str, number: int) -> NpoConfigVersion | None:
    """Version ``number`` of the NPO's history."""
    raw = _history.get(f"{npo_id}/{number}".encode())
    return None if raw is None else decode_config_version(raw)


def history(npo_id: str) -> list[NpoConfigVersion]:
    """Every stored version, oldest first: call on the owner of the NPO's partition
    (``table_route`` on ``history_table``)."""
    latest = current(npo_id)
    if latest is None:
        return []
    versions = []
    for number in range(1, latest.version + 1):
        raw = _history.get(f"{npo_id}/{number}".encode())
        if raw is not None:
            versions.append(decode_config_version(raw))
    return versions


def store(version: NpoConfigVersion) -> None:
    """Write a new version; call only from the config agent (stream
    context), then ``wait_acked``."""
    value = encode(version)
    _history.put_raw(f"{version.npo_id}/{version.version}".encode(), value)
    _current.put_raw(version.npo_id.encode(), value)
    _decoded.replace(version.npo_id, value, version)  # a cached NPO's next read needs no decode
    _own_writes.wrote(version.npo_id, value)
    _notify(version.npo_id, value, version)


def forget_history(npo_id: str, before: int) -> int:
    """Delete versions ``1..before-1`` of the NPO's history (changelog tombstones); the number
    deleted. Call only from the config agent, in the event of a command for the NPO (the
    partition its history was written in), then ``wait_acked``: an erase's, so the sealed secrets
    of the NPO's earlier versions do not outlive it."""
    deleted = 0
    for number in range(1, before):
        key = f"{npo_id}/{number}".encode()
        if _history.get_raw(key) is not None:
            _history.delete_raw(key)
            deleted += 1
    return deleted


async def wait_acked() -> None:
    """Return once every version stored so far is acknowledged by the broker."""
    await _history.wait_acked()
    await _current.wait_acked()


class ConfigSummary(Versioned):
    """What the lists (admin list, status list) read of a stored config, without decoding the
    rest of it (mappings, sealed secrets)."""

    model_config = ConfigDict(extra="ignore")

    class _Config(BaseModel):
        model_config = ConfigDict(extra="ignore")

        display_name: str
        active: bool = True

    npo_id: str
    version: int
    updated_at: datetime
    source: str
    change: str = "upsert"
    config: _Config

    @property
    def erased(self) -> bool:
        """The NPO left the platform (``npo_config.erase``) and was not registered again since."""
        return self.change == "erase" and not self.config.active

    def state_expired(self, now: datetime, retention: timedelta) -> bool:
        """Deactivated (not paused) for longer than ``retention``, or erased (at once): its state
        goes (``timers/state_sweep.py``). A paused NPO keeps its state whatever its age."""
        if self.erased:
            return True
        return (
            not self.config.active
            and self.change == "deactivate"
            and now - self.updated_at >= retention
        )

    def public(self) -> dict[str, Any]:
        return {
            "npo_id": self.npo_id,
            "display_name": self.config.display_name,
            "active": self.config.active,
            "erased": self.erased,
            "version": self.version,
            "updated_at": self.updated_at.isoformat(),
            "source": self.source,
        }
