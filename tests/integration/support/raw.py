"""Raw-record pages built here and produced straight onto a deployment's raw-records topic, as
the pull path would send them, for NPOs whose pulls are disabled: the one way the benchmarks
(``bench/ingest.py``, ``bench/scaling.py``) and the chaos scenarios fill the tables with many
records quickly, without an NPO serving them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from npo_integration.pull.raw import raw_item, raw_pages


def offering_record(number: int, revision: int) -> dict[str, Any]:
    """A record in the simulated ``simple`` NPO's shape; another ``revision`` is other content."""
    return {
        "id": number,
        "title": f"Course {number} (revision {revision})",
        "description": f"<p>Course <b>{number}</b>, a practical introduction.</p>",
        "kind": "course",
        "starts_on": "2027-02-01",
        "capacity": 20 + number % 7,
        "updated_at": (datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=revision)).isoformat(),
    }


def raw_messages(
    npos: list[str], records: int, revision: int, page_size: int, *, first: int = 0
) -> list[tuple[bytes, bytes]]:
    """``records`` raw records (numbers ``first`` to ``first + records - 1``, record ``i`` at
    NPO ``npos[i % len(npos)]``) as the pull path sends them: pages keyed by npo_id."""
    per_npo: dict[str, list[tuple[str, dict[str, Any]]]] = {n: [] for n in npos}
    for i in range(first, first + records):
        per_npo[npos[i % len(npos)]].append((str(i), offering_record(i, revision)))
    out = []
    for npo_id, items in per_npo.items():
        for start in range(0, len(items), page_size):
            chunk = [
                raw_item(npo_id, "offerings", rid, rec)
                for rid, rec in items[start : start + page_size]
            ]
            for page in raw_pages(npo_id, "offerings", chunk, "bench"):
                out.append((npo_id.encode(), page.model_dump_json().encode()))
    return out


def config(npo_id: str) -> dict[str, Any]:
    """An NPO whose records are produced by the caller: its pull stream is disabled."""
    return {
        "npo_id": npo_id,
        "display_name": npo_id,
        "base_url": "http://127.0.0.1:9/api",
        "auth": {"kind": "bearer", "token": "bench"},
        "streams": {"offerings": {"path": "/offerings", "records_path": "data", "enabled": False}},
        "transform": {"kind": "plugin", "name": "simple"},
    }
