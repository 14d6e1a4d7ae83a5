"""A Faust table whose write can be awaited until its changelog record is acknowledged by the broker.

``table[key] = value`` writes the local store and queues the changelog record;
the table drops the future of that record. ``AckedTable.put_acked`` keeps it and
waits for it, so after the call a worker recovering the table from its changelog
(another worker after a rebalance, or a fresh data dir) sees the value. Precise
where ``app.producer.flush()`` is not: that returns once Faust's send buffer is
empty, which can be before the last record reached the Kafka producer.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import faust
from faust.types import AppT
from faust.types.tuples import FutureMessage


class AckedTable(faust.Table):
    """``faust.Table`` + ``put_acked``; otherwise unchanged (same store, changelog and semantics)."""

    _last_changelog: FutureMessage | None = None

    def send_changelog(self, *args: Any, **kwargs: Any) -> FutureMessage:
        future = super().send_changelog(*args, **kwargs)
        self._last_changelog = future
        return future

    async def put_acked(self, key: Any, value: Any, *, timeout: float = 30.0) -> None:
        """Write, then wait until the broker has the changelog record (call in stream context).

        Raises ``TimeoutError`` after ``timeout`` seconds; the record may still be sent.
        """
        self._last_changelog = None
        self[key] = value  # sends the changelog synchronously into the buffer: no await in between
        future = self._last_changelog
        if future is None:  # pragma: no cover - Faust always sends a changelog record for a set
            raise RuntimeError(f"table {self.name!r} sent no changelog record")
        await asyncio.wait_for(asyncio.shield(future), timeout)


def acked_bytes_table(app: AppT, name: str, *, help: str) -> AckedTable:
    """Like ``tables.declare.bytes_table``, as an ``AckedTable``."""
    table = AckedTable(app, name=name, key_type=bytes, value_type=bytes, beacon=app.tables.beacon, help=help)
    return cast(AckedTable, app.tables.add(table))
