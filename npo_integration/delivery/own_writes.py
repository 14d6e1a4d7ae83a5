"""Which changelog records are this worker's own writes, read back."""

from __future__ import annotations

from collections import OrderedDict


class OwnWrites:
    """A table's writes by this worker not yet read back from its changelog (a GlobalTable reads
    every write back), by key and a hash of the bytes (ints, not values: a burst of 100,000
    writes is a few MB). Whoever was told of a write when it was made need not be told again when
    it comes back; telling them again costs a decode, and for a key written twice in a burst,
    tells them the older value last."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._pending: OrderedDict[str, list[int]] = OrderedDict()

    def wrote(self, key: str, raw: bytes) -> None:
        self._pending.setdefault(key, []).append(hash(raw))
        if len(self._pending) > self._size:
            self._pending.popitem(last=False)

    def read_back(self, key: str, raw: bytes) -> bool:
        """Whether ``raw`` is one of this worker's writes (forgotten now, with any earlier one of
        the same key: the changelog keeps each key.s writes in order)."""
        pending = self._pending.get(key)
        digest = hash(raw)
        if pending is None or digest not in pending:
            return False
        del pending[: pending.index(digest) + 1]
        if not pending:
            del self._pending[key]
        return True
