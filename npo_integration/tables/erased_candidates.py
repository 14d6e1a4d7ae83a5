"""Candidates whose personal data was erased: ``candidate_id`` -> ``ErasedCandidate``.

Each erasure step writes the marker on its own partition, so every partition holds it: an
assignment or an enrolment link of the candidate that arrives after the erasure (it was still
in a topic) is dropped where it is read, and the candidate's data does not come back.
"""

from __future__ import annotations

from npo_integration.app import app
from npo_integration.delivery.acked_table import acked_bytes_table
from npo_integration.models.codec import decode, encode
from npo_integration.models.erasure import ErasedCandidate
from npo_integration.tables.declare import ROCKSDB_OPTIONS
from npo_integration.worker_resources import batch_producer

_table = acked_bytes_table(
    app,
    "npo-erased-candidates",
    help="candidate_id -> ErasedCandidate (on every partition)",
    producer=batch_producer,
    options=ROCKSDB_OPTIONS,
)


def get(candidate_id: str) -> ErasedCandidate | None:
    raw = _table.get_raw(candidate_id.encode())
    return None if raw is None else decode(ErasedCandidate, raw)


def is_erased(candidate_id: str) -> bool:
    return _table.get_raw(candidate_id.encode()) is not None


def put(candidate_id: str, marker: ErasedCandidate) -> None:
    """Call only while processing an event of the partition to mark."""
    _table.put_raw(candidate_id.encode(), encode(marker))


async def wait_acked() -> None:
    await _table.wait_acked()
