"""Declaring a table of bytes: values are pydantic models encoded by the table's own module."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from faust import GlobalTable, Table
from faust.types import EventT

from npo_integration.app import app


def bytes_table(name: str, *, help: str) -> Table:
    return app.Table(name, key_type=bytes, value_type=bytes, help=help)


def global_bytes_table(
    name: str, *, help: str, on_changelog_event: Callable[[EventT], Awaitable[None]] | None = None
) -> GlobalTable:
    """Every worker holds every partition, including the ones other workers write
    (``synchronize_all_active_partitions``; plain GlobalTables miss those, faust-streaming #283).
    ``on_changelog_event`` sees each change read from the changelog (other workers' writes)."""
    return app.GlobalTable(
        name,
        key_type=bytes,
        value_type=bytes,
        synchronize_all_active_partitions=True,
        on_changelog_event=on_changelog_event,
        help=help,
    )
